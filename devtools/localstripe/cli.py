"""`python -m devtools.localstripe`: bind 127.0.0.1, pick the port and the webhook
targets and secrets (the demo's, shared through var/), and run."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from devtools.localstripe.server import LocalStripe
from devtools.localstripe.state import DEFAULT_BALANCE_MINOR


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Stripe (localstripe + Connect) on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="0 picks a free port (printed on start); default: STRIPE_PORT, else the --app-url's "
        "port + 420 (the web app derives the same), else 8420",
    )
    parser.add_argument(
        "--state-dir",
        default="",
        help="keep state here across restarts (default: a fresh temporary folder, removed on exit)",
    )
    parser.add_argument(
        "--app-url",
        default="",
        help="the web app's address (http://127.0.0.1:8000): both webhook endpoints under it, unless given one by one",
    )
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("LOCALSTRIPE_WEBHOOK_URL", ""),
        help="the platform endpoint (transfer events)",
    )
    parser.add_argument("--connect-webhook-url", default="", help="the Connect endpoint (connected accounts' events)")
    parser.add_argument(
        "--webhook-secrets-file",
        default="",
        help="the demo's signing secrets (JSON, created if missing, shared with the web app)",
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        help="the platform endpoint's signing secret (default: STRIPE_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--connect-webhook-secret",
        default=os.environ.get("STRIPE_CONNECT_WEBHOOK_SECRET", ""),
        help="the Connect endpoint's signing secret (default: STRIPE_CONNECT_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--balance", type=int, default=DEFAULT_BALANCE_MINOR, help="initial platform balance in eur cents"
    )
    parser.add_argument(
        "--payout-delay-ms",
        type=int,
        default=2000,
        help="the connected accounts' payout schedule: milliseconds between money landing in an "
        "account's balance and its automatic payout; negative: only when asked",
    )
    parser.add_argument(
        "--arrival-delay-ms",
        type=int,
        default=2000,
        help="milliseconds between an automatic payout and the bank's answer (payout.paid/failed)",
    )
    parser.add_argument("--public-url", default="", help="base URL for onboarding links (default: the request's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s localstripe %(message)s")

    secrets_ = {"platform": args.webhook_secret, "connect": args.connect_webhook_secret}
    if args.webhook_secrets_file:
        from devtools.demo_secrets import demo_webhook_secrets

        shared = demo_webhook_secrets(args.webhook_secrets_file)
        secrets_ = {kind: secrets_[kind] or shared[kind] for kind in secrets_}
    app_url = args.app_url.rstrip("/")
    if args.port is None:
        from urllib.parse import urlsplit

        from devtools.demo_secrets import local_stripe_port

        override = int(os.environ.get("STRIPE_PORT") or 0)
        web_port = urlsplit(app_url).port if app_url else None
        args.port = local_stripe_port(web_port, override) if web_port else (override or 8420)
    webhook_url = args.webhook_url or (f"{app_url}/webhooks/stripe/" if app_url else "")
    connect_url = args.connect_webhook_url or (f"{app_url}/webhooks/stripe/connect/" if app_url else "")

    temporary = not args.state_dir
    folder = Path(args.state_dir or tempfile.mkdtemp(prefix="atelier-localstripe-")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    local = LocalStripe(
        folder=folder,
        balance_minor=args.balance,
        webhook_url=webhook_url,
        webhook_secret=secrets_["platform"],
        connect_webhook_url=connect_url,
        connect_webhook_secret=secrets_["connect"],
        payout_delay_ms=args.payout_delay_ms,
        arrival_delay_ms=args.arrival_delay_ms,
        public_url=args.public_url,
        persist=not temporary,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)  # connections made right after "ready" wait in the backlog, never refused
    port = sock.getsockname()[1]
    print(
        f"localstripe ready on http://{args.host}:{port} (state in {folder}; webhooks to "
        f"{webhook_url or 'nowhere'} and {connect_url or 'nowhere'})",
        flush=True,
    )
    try:
        web.run_app(local.app, sock=sock, access_log=None, print=None, handle_signals=True)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
