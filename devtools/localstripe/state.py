"""The local Stripe's own state (saved as JSON in the run's folder) and small helpers."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from aiohttp import web

DEFAULT_BALANCE_MINOR = 10_000_000  # €100,000.00 in the demo's platform balance
ONBOARDING_REQUIREMENTS = [
    "external_account",
    "individual.dob.day",
    "individual.first_name",
    "individual.last_name",
    "tos_acceptance.date",
]


# Stripe's failure messages for the payout failures a bank returns most (failure_code → text).
PAYOUT_FAILURES = {
    "account_closed": "The bank account has been closed.",
    "no_account": "The bank account details on file are probably incorrect. No bank account could be located "
    "with those details.",
    "invalid_account_number": "The bank account number or routing number on file is incorrect.",
    "account_frozen": "The bank account has been frozen.",
    "could_not_process": "The bank could not process this payout.",
}


class State:
    """Everything the added routes know, saved as JSON in the run's state folder."""

    def __init__(self, folder: Path, *, balance_minor: int):
        self.folder = folder
        self.initial_balance = balance_minor
        self.reset()

    def reset(self) -> None:
        self.accounts: dict[str, dict] = {}
        self.links: dict[str, dict] = {}
        self.transfers: dict[str, dict] = {}
        self.balance: dict[str, int] = {"eur": self.initial_balance}
        self.idempotency: dict[str, dict] = {}
        self.outbox: list[dict] = []
        self.webhook_url = ""
        self.webhook_secret = ""
        self.connect_webhook_url = ""
        self.connect_webhook_secret = ""
        # Per connected account: its balance transactions and payouts (Stripe's objects),
        # and its bank account's state (internal: status, a refusal queued by a test).
        self.balance_txns: dict[str, list[dict]] = {}
        self.payouts: dict[str, dict[str, dict]] = {}
        self.banks: dict[str, dict] = {}
        self.paid_in: dict[str, str] = {}  # balance transaction id → the payout that carried it

    # Saving the whole state on every write would make N transfers cost O(N²): writes mark
    # the state dirty and one save runs at most every two seconds, and at shutdown.
    def dump(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "accounts",
                "links",
                "transfers",
                "balance",
                "idempotency",
                "outbox",
                "webhook_url",
                "webhook_secret",
                "connect_webhook_url",
                "connect_webhook_secret",
                "balance_txns",
                "payouts",
                "banks",
                "paid_in",
            )
        }

    def load(self) -> None:
        path = self.folder / "atelier-state.json"
        if path.exists():
            for key, value in json.loads(path.read_text()).items():
                setattr(self, key, value)

    def save(self) -> None:
        path = self.folder / "atelier-state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.dump()))
        os.replace(tmp, path)


def _id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


def _error(
    status: int, message: str, *, code: str = "", type_: str = "invalid_request_error", param: str = ""
) -> web.Response:
    body: dict[str, Any] = {"type": type_, "message": message}
    if code:
        body["code"] = code
    if param:
        body["param"] = param
    return web.json_response({"error": body}, status=status)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"))


def _canonical(body: bytes) -> bytes:
    """The same parameters in another order are the same request."""
    from urllib.parse import parse_qsl

    text = body.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), sort_keys=True).encode()
    except ValueError:
        return "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(text, keep_blank_values=True))).encode()
