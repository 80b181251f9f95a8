"""The audit chain's keys: configuration, never data.

Each event's link is an HMAC-SHA256 under a key that lives in the environment, so whoever
can write to the database still cannot recompute the chain after editing an event. Keys
rotate by id: `AUDIT_CHAIN_KEY="<id>:<secret>"` signs new events, and
`AUDIT_CHAIN_OLD_KEYS="<id>:<secret>,..."` keeps earlier keys so their events still verify.

Importable from settings.py: no Django imports at module level.
"""

from __future__ import annotations

import re

from tester_platform.env import ConfigurationError

# The demo's and the test suite's key. Public (it is in the repository), so production
# refuses it (tester_platform/checks.py).
DEMO_AUDIT_CHAIN_KEY = "dev:atelier-demo-audit-chain-key-public-not-a-secret"

# Short, printable, stored on every event: an id never contains the separators.
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,16}$")
MIN_SECRET_LENGTH = 32


def _split(value: str, *, name: str) -> tuple[str, str]:
    key_id, sep, secret = value.strip().partition(":")
    if not sep or not _KEY_ID.match(key_id) or not secret:
        raise ConfigurationError(f"{name} must be '<id>:<secret>' with an id of 1-16 letters, digits, '_', '.' or '-'")
    return key_id, secret


def parse_chain_keys(current: str, old: list[str], *, production: bool) -> tuple[str, dict[str, str]]:
    """(current key id, {key id: secret}) from the two settings; fails loudly on anything
    that would make an event unverifiable later (a reused id, a short secret in production)."""
    if not current:
        raise ConfigurationError("AUDIT_CHAIN_KEY must be set")
    current_id, current_secret = _split(current, name="AUDIT_CHAIN_KEY")
    keys = {current_id: current_secret}
    for item in old:
        key_id, secret = _split(item, name="AUDIT_CHAIN_OLD_KEYS")
        if key_id in keys:
            # Two secrets under one id: half the events under that id could never verify.
            raise ConfigurationError(f"AUDIT_CHAIN_OLD_KEYS repeats the key id {key_id!r}")
        keys[key_id] = secret
    if production:
        short = [key_id for key_id, secret in keys.items() if len(secret) < MIN_SECRET_LENGTH]
        if short:
            raise ConfigurationError(
                f"audit chain key(s) {', '.join(short)} must have secrets of at least {MIN_SECRET_LENGTH} characters"
            )
    return current_id, keys
