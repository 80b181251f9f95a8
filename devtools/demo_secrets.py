"""What the demo's web app and its local Stripe must agree on, decided in one place:

- the webhook signing secrets, generated once per state folder (var/) and read by both, so
  two demos on one machine never accept each other's events (production sets
  STRIPE_WEBHOOK_SECRET and STRIPE_CONNECT_WEBHOOK_SECRET from the Stripe Dashboard);
- the local Stripe's port, derived from the web server's (WEB_PORT + 420: 8420 beside 8000),
  so that honcho's per-process PORT never decides where anything listens.

No Django, no third-party imports: settings.py and the local Stripe's launcher both use it."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

KINDS = ("platform", "connect")
STRIPE_PORT_OFFSET = 420


def local_stripe_port(web_port: int, override: int = 0) -> int:
    """Where the demo's local Stripe listens, beside a web server on `web_port`, unless
    `override` (STRIPE_PORT, read by each side) says otherwise."""
    return override or web_port + STRIPE_PORT_OFFSET


def demo_webhook_secrets(path: str | Path) -> dict[str, str]:
    """{"platform": "whsec_…", "connect": "whsec_…"} from `path`, created on first use.

    Several processes start at once (honcho): the file is written whole under a temporary
    name and linked into place, which fails if another process got there first; every
    process then reads the one file that won."""
    path = Path(path)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    tmp.write_text(json.dumps({kind: "whsec_" + secrets.token_urlsafe(24) for kind in KINDS}))
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text())
    if not all(isinstance(data.get(kind), str) and data[kind].startswith("whsec_") for kind in KINDS):
        raise ValueError(f"{path} does not hold the demo's webhook secrets; delete it to make new ones")
    return {kind: data[kind] for kind in KINDS}
