"""The local Stripe server for tests: one subprocess per test session (started on first
use, on a free 127.0.0.1 port, with its own state folder), wiped between tests. The real
SDK talks HTTP to it through settings.STRIPE_API_BASE."""

from __future__ import annotations

import atexit
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_atelier_local"
CONNECT_WEBHOOK_SECRET = "whsec_atelier_local_connect"


class LocalStripe:
    def __init__(self):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.localstripe",
                "--port",
                "0",
                "--webhook-secret",
                WEBHOOK_SECRET,
                "--connect-webhook-secret",
                CONNECT_WEBHOOK_SECRET,
                "--payout-delay-ms",
                "-1",
                "--arrival-delay-ms",
                "0",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            match = re.search(r"ready on (http://127\.0\.0\.1:\d+)", line)
            if match:
                self.url = match.group(1)
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"local Stripe did not start: {line}{self.proc.stdout.read()}")
        else:
            raise RuntimeError("local Stripe did not start in 30 s")
        # Drain its output so a full pipe never blocks it.
        import threading

        threading.Thread(target=self._drain, daemon=True).start()
        self.session = requests.Session()
        atexit.register(self.stop)

    def _drain(self):
        import os
        import tempfile

        log = Path(os.environ.get("ATELIER_TEST_RUN_DIR", tempfile.gettempdir())) / "localstripe.log"
        with open(log, "a") as out:
            for line in self.proc.stdout:
                out.write(line)
                out.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    # --- test-only routes ---------------------------------------------------------------
    def _post(self, path, **data):
        response = self.session.post(self.url + path, data=data, timeout=10)
        response.raise_for_status()
        return response.json()

    def reset(
        self,
        *,
        webhook_url: str = "",
        connect_webhook_url: str = "",
        payout_delay_ms: int = -1,
        arrival_delay_ms: int = 0,
    ):
        """Wiped, with nothing delivered (tests read the outbox and deliver through the test
        client) unless given the endpoints; the accounts' payouts run only when a test asks
        (`payout_now`) unless given a schedule."""
        self.session.delete(self.url + "/_atelier/state", timeout=10).raise_for_status()
        self._post(
            "/_atelier/config",
            webhook_url=webhook_url,
            webhook_secret=WEBHOOK_SECRET,
            connect_webhook_url=connect_webhook_url,
            connect_webhook_secret=CONNECT_WEBHOOK_SECRET,
            payout_delay_ms=payout_delay_ms,
            arrival_delay_ms=arrival_delay_ms,
            transfer_latency_ms=0,
        )
        self._post("/_atelier/balance", set=10_000_000, currency="eur")

    def configure(self, **config):
        return self._post("/_atelier/config", **config)

    def set_balance(self, amount_minor: int, currency: str = "eur"):
        return self._post("/_atelier/balance", set=amount_minor, currency=currency)

    def balance(self, currency: str = "eur") -> int:
        return self.session.get(self.url + "/_atelier/balance", timeout=10).json()["available"].get(currency, 0)

    def set_account(self, account_id: str, **state):
        return self._post(f"/_atelier/accounts/{account_id}/state", **state)

    def bank_refuses(
        self, account_id: str, *, code: str = "account_closed", message: str = "", after_paid: bool = False
    ):
        """The account's bank refuses its next payout (Stripe's payout.failed)."""
        return self._post(
            f"/_atelier/accounts/{account_id}/bank", code=code, message=message, after_paid="true" if after_paid else ""
        )

    def payout_now(self, account_id: str, *, finish: bool = True) -> dict | None:
        """The connected account's automatic payout, now: payout.created/updated (and, with
        `finish`, payout.paid or payout.failed)."""
        return self._post(f"/_atelier/accounts/{account_id}/payouts", finish="true" if finish else "false")["payout"]

    def reverse_transfer(self, transfer_id: str):
        response = self.session.post(
            f"{self.url}/v1/transfers/{transfer_id}/reversals",
            headers={"Authorization": "Bearer sk_test_atelier_local"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def transfers(self, **filters) -> list[dict]:
        response = self.session.get(
            self.url + "/v1/transfers",
            params={"limit": 100, **filters},
            headers={"Authorization": "Bearer sk_test_atelier_local"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["data"]

    def events(self, *, after: int = 0, types: tuple[str, ...] | None = None) -> list[dict]:
        data = self.session.get(self.url + "/_atelier/events", params={"after": after}, timeout=10).json()["data"]
        return [e for e in data if types is None or e["type"] in types]

    def onboard(self, onboarding_url: str) -> str:
        """Open an Account Link the way a browser would; returns where Stripe sends the artist."""
        response = self.session.get(onboarding_url, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["Location"]


def deliver(client, event: dict, *, signature: str | None = None):
    """POST one outbox event with its Stripe signature (the test client) to the endpoint it
    was sent to: /webhooks/stripe/ (platform) or /webhooks/stripe/connect/ (Connect)."""
    path = "/webhooks/stripe/connect/" if event.get("endpoint") == "connect" else "/webhooks/stripe/"
    return client.generic(
        "POST",
        path,
        event["payload"].encode(),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature or event["signature"],
    )


def deliver_all(client, events: list[dict]) -> list[int]:
    return [deliver(client, e).status_code for e in events]


def event_payload(event: dict) -> dict:
    return json.loads(event["payload"])


_server: LocalStripe | None = None


def local_stripe() -> LocalStripe:
    """The session's server (started on first use)."""
    global _server
    if _server is None or _server.proc.poll() is not None:
        _server = LocalStripe()
    return _server
