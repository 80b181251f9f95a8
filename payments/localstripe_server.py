"""The local Stripe for the demo and the tests: localstripe (pip package, pinned), started
bound to 127.0.0.1 with its own state folder per run, plus what it lacks for Connect.

    python -m payments.localstripe_server --port 8420 --app-url http://127.0.0.1:8000 \
        --webhook-secrets-file var/stripe-webhook-secrets.json

localstripe's own CLI binds every interface and pickles its state into one hard-coded
file in /tmp; this launcher imports its aiohttp app instead, points the pickle at the
run's state folder and adds routes from outside (nothing of localstripe is copied). It
produces only what Stripe's Connect produces today (transfers and payouts split, 2017):

- /v1/accounts (create, retrieve, update, list): Express accounts;
- /v1/account_links: a URL to a local onboarding page on this server which, when opened,
  marks the account details_submitted + payouts_enabled (with a working bank account),
  sends `account.updated` to the Connect endpoint and redirects to the return_url;
- /v1/transfers (create, retrieve, list by transfer_group / destination / metadata) and
  /v1/transfers/{id}/reversals: a create checks the platform balance and that the
  destination can receive transfers, moves the money into the connected account's
  balance (a `payment` balance transaction, source the transfer's py_… payment) and sends
  `transfer.created`; a reversal needs that balance to still hold the money and sends
  `transfer.reversed`. A transfer has no paid or failed state (no transfer.paid/failed);
- the connected account's payouts: on its schedule (--payout-delay-ms after money lands in
  its balance; negative: only when a test asks) an automatic payout sweeps its available
  balance to the bank: `payout.created` (pending), `payout.updated` (in_transit), then,
  --arrival-delay-ms later, `payout.paid`, or `payout.failed` with Stripe's failure code
  and message when the bank refuses it: the money returns to the account's balance (a
  `payout_failure` balance transaction), the bank account is errored and `external_account`
  is due again; payouts stop until onboarding is finished again. These events go to the
  Connect endpoint and carry `account`. With the Stripe-Account header: GET /v1/payouts,
  /v1/payouts/{id}, /v1/balance_transactions?payout=po_… and /v1/balance;
- Idempotency-Key on every POST: the same key and body give back the first answer; the
  same key with another body is a 400 `idempotency_error`, as on Stripe;
- webhooks, signed like Stripe's (t=..., v1=HMAC-SHA256) with each endpoint's own secret,
  delivered in order to the platform endpoint (--webhook-url) or the Connect endpoint
  (--connect-webhook-url), and kept in an outbox that tests can read and replay;
- test-only routes under /_atelier/: top up or set the platform balance, configure the
  webhook targets and delays, change an account's state, make its bank refuse the next
  payout, run its payout now, read the outbox, and wipe everything.

It imports nothing from Django: it is a separate process.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import os
import pickle
import secrets
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

log = logging.getLogger("atelier.localstripe")

DEFAULT_BALANCE_MINOR = 10_000_000  # €100,000.00 in the demo's platform balance
ONBOARDING_REQUIREMENTS = ["external_account", "individual.dob.day", "individual.first_name",
                           "individual.last_name", "tos_acceptance.date"]


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
        return {k: getattr(self, k) for k in ("accounts", "links", "transfers", "balance", "idempotency",
                                              "outbox", "webhook_url", "webhook_secret", "connect_webhook_url",
                                              "connect_webhook_secret", "balance_txns", "payouts", "banks",
                                              "paid_in")}

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


def _error(status: int, message: str, *, code: str = "", type_: str = "invalid_request_error",
           param: str = "") -> web.Response:
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


class LocalStripe:
    def __init__(self, *, folder: Path, balance_minor: int, webhook_url: str, webhook_secret: str,
                 connect_webhook_url: str = "", connect_webhook_secret: str = "", payout_delay_ms: int = 2000,
                 arrival_delay_ms: int = 2000, public_url: str = "", persist: bool = False):
        from localstripe import resources, server  # imported here: it is only the server's business

        self.resources = resources
        self.server = server
        self.state = State(folder, balance_minor=balance_minor)
        self.state.load()
        for name, value in (("webhook_url", webhook_url), ("webhook_secret", webhook_secret),
                            ("connect_webhook_url", connect_webhook_url),
                            ("connect_webhook_secret", connect_webhook_secret)):
            if value:
                setattr(self.state, name, value)
        # The connected accounts' payout schedule: how long money sits in an account's balance
        # before its automatic payout, and how long that payout takes to the bank. Negative
        # payout delay: payouts only when a test asks (/_atelier/accounts/{id}/payouts).
        self.payout_delay_ms = payout_delay_ms
        self.arrival_delay_ms = arrival_delay_ms
        self.transfer_latency_ms = 0  # test-only: a slow Stripe, to kill a run mid-way
        # Saving serialises the whole state on the event loop: only a run that asked to keep
        # its state (--state-dir, the demo) pays for it; a temporary run lives in memory.
        self.persist = persist
        self.public_url = public_url
        self._dirty = False
        self._deliveries: asyncio.Queue | None = None
        self._session: ClientSession | None = None
        self._sweeps: dict[str, asyncio.TimerHandle] = {}
        self._patch_store(folder)
        self.app = server.app
        self._add_routes()

    # --- localstripe's own store: per-run file instead of /tmp/localstripe.pickle -------------
    def _patch_store(self, folder: Path) -> None:
        pickle_path = folder / "localstripe.pickle"
        outer = self

        def dump_to_disk(store):
            outer._dirty = True

        def try_load_from_disk(store):
            if pickle_path.exists():
                with open(pickle_path, "rb") as f:
                    old = pickle.load(f)
                dict.clear(store)
                dict.update(store, old)

        def save_localstripe():
            with open(pickle_path, "wb") as f:
                pickle.dump(dict(self.resources.store), f, protocol=pickle.HIGHEST_PROTOCOL)

        self.resources.Store.dump_to_disk = dump_to_disk
        self.resources.Store.try_load_from_disk = try_load_from_disk
        self._save_localstripe = save_localstripe
        self.resources.store.try_load_from_disk()

    def mark_dirty(self) -> None:
        self._dirty = True

    def save_now(self) -> None:
        if not self.persist:
            self._dirty = False
            return
        self.state.save()
        try:
            self._save_localstripe()
        except Exception:  # an unpicklable localstripe object must not lose our own state
            log.exception("could not save localstripe's store")
        self._dirty = False

    async def _saver(self) -> None:
        while True:
            await asyncio.sleep(2)
            if self._dirty:
                self.save_now()

    # --- events ----------------------------------------------------------------------------
    def emit(self, type_: str, obj: dict, *, account: str | None = None) -> dict:
        """Record (and queue for delivery) one event. With `account` it is an event on that
        connected account: it carries `account` and goes to the Connect endpoint."""
        endpoint = "connect" if account else "platform"
        url = self.state.connect_webhook_url if account else self.state.webhook_url
        event = {"id": _id("evt_"), "object": "event", "api_version": "2025-01-27.acacia", "created": int(time.time()),
                 "type": type_, "livemode": False, "pending_webhooks": 1 if url else 0,
                 "data": {"object": json.loads(json.dumps(obj))}, "request": {"id": None, "idempotency_key": None}}
        if account:
            event["account"] = account
        payload = json.dumps(event, sort_keys=True)
        entry = {"seq": len(self.state.outbox) + 1, "id": event["id"], "type": type_, "payload": payload,
                 "endpoint": endpoint, "account": account, "delivered": None}
        self.state.outbox.append(entry)
        self.mark_dirty()
        if self._deliveries is not None:
            self._deliveries.put_nowait(entry)
        return event

    def _target(self, entry: dict) -> tuple[str, str]:
        if entry.get("endpoint") == "connect":
            return self.state.connect_webhook_url, self.state.connect_webhook_secret
        return self.state.webhook_url, self.state.webhook_secret

    def sign(self, payload: str, timestamp: int | None = None, *, secret: str | None = None) -> str:
        timestamp = int(time.time()) if timestamp is None else timestamp
        key = self.state.webhook_secret if secret is None else secret
        mac = hmac.new(key.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
        return f"t={timestamp},v1={mac.hexdigest()}"

    async def _deliverer(self) -> None:
        # One queue, one delivery at a time: events reach the endpoints in the order they happened.
        assert self._deliveries is not None
        while True:
            entry = await self._deliveries.get()
            url, secret = self._target(entry)
            if not url or not secret:
                continue
            headers = {"Content-Type": "application/json; charset=utf-8",
                       "Stripe-Signature": self.sign(entry["payload"], secret=secret)}
            for attempt in range(3):
                try:
                    assert self._session is not None
                    async with self._session.post(url, data=entry["payload"].encode(), headers=headers) as response:
                        entry["delivered"] = response.status
                        if response.status < 500:
                            break
                except Exception as exc:  # the endpoint is down: Stripe retries too
                    entry["delivered"] = f"error: {exc}"
                await asyncio.sleep((attempt + 1) / 5)
            self.mark_dirty()

    async def on_startup(self, app: web.Application) -> None:
        self._deliveries = asyncio.Queue()
        self._session = ClientSession(timeout=ClientTimeout(total=10))
        app["atelier_tasks"] = [asyncio.ensure_future(self._deliverer()), asyncio.ensure_future(self._saver())]
        # A restarted demo picks up where its accounts' payout schedules were.
        for account_id in self.state.accounts:
            if self._available(account_id) > 0:
                self._schedule_sweep(account_id)
            for payout in self.state.payouts.get(account_id, {}).values():
                if payout["status"] in ("pending", "in_transit"):
                    self._schedule_finish(account_id, payout["id"])

    async def on_cleanup(self, app: web.Application) -> None:
        for task in app.get("atelier_tasks", []):
            task.cancel()
        for handle in self._sweeps.values():
            handle.cancel()
        if self._session is not None:
            await self._session.close()
        self.save_now()

    # --- idempotency -------------------------------------------------------------------------
    @web.middleware
    async def idempotency_middleware(self, request: web.Request, handler):
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith("/v1/"):
            return await handler(request)
        body = await request.read()
        fingerprint = hashlib.sha256(b"%s %s\n%s" % (request.method.encode(), request.path.encode(),
                                                      _canonical(body))).hexdigest()
        seen = self.state.idempotency.get(key)
        if seen is not None:
            if seen["fingerprint"] != fingerprint:
                return _error(400, f"Keys for idempotent requests can only be used with the same parameters they "
                                   f"were first used with. Try using a key other than '{key}' if you meant to "
                                   f"execute a different request.", type_="idempotency_error")
            if seen["status"] is None:
                return _error(409, "There is currently another in-progress request using this Stripe token "
                                   "(idempotency key).", code="idempotency_key_in_use")
            response = web.Response(body=seen["body"].encode(), status=seen["status"], content_type="application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        self.state.idempotency[key] = {"fingerprint": fingerprint, "status": None, "body": ""}
        try:
            response = await handler(request)
        except Exception:
            del self.state.idempotency[key]
            raise
        if isinstance(response, web.Response) and response.status < 500 and response.body is not None:
            body_bytes = bytes(response.body)
            self.state.idempotency[key] = {"fingerprint": fingerprint, "status": response.status,
                                           "body": body_bytes.decode()}
        else:
            del self.state.idempotency[key]
        self.mark_dirty()
        return response

    @web.middleware
    async def local_routes_middleware(self, request: web.Request, handler):
        # The onboarding page is opened by a browser without an API key, and the test-only
        # routes are local plumbing: they skip localstripe's key check.
        if request.path.startswith("/_atelier/") and request.match_info.http_exception is None:
            return await request.match_info.handler(request)
        return await handler(request)

    @web.middleware
    async def connect_account_middleware(self, request: web.Request, handler):
        """Requests made for a connected account (the Stripe-Account header): its payouts,
        balance transactions and balance. localstripe has platform-only routes of the same
        paths, so these are matched here, after the key check."""
        account_id = request.headers.get("Stripe-Account")
        if not account_id or request.method != "GET":
            return await handler(request)
        if account_id not in self.state.accounts:
            return _error(403, f"The provided key does not have access to account '{account_id}' (or that "
                               f"account does not exist). Application access may have been revoked.",
                          code="account_invalid", type_="invalid_request_error")
        parts = [p for p in request.path.split("/") if p]
        if parts == ["v1", "payouts"]:
            payouts = sorted(self.state.payouts.get(account_id, {}).values(), key=lambda p: (p["created"], p["id"]),
                             reverse=True)
            return self._list(request, "/v1/payouts", payouts)
        if len(parts) == 3 and parts[:2] == ["v1", "payouts"]:
            payout = self.state.payouts.get(account_id, {}).get(parts[2])
            if payout is None:
                return _error(404, f"No such payout: '{parts[2]}'", code="resource_missing", param="id")
            return web.json_response(payout)
        if parts == ["v1", "balance_transactions"]:
            txns = list(reversed(self.state.balance_txns.get(account_id, [])))
            if request.query.get("payout"):
                txns = [t for t in txns if self.state.paid_in.get(t["id"]) == request.query["payout"]]
            return self._list(request, "/v1/balance_transactions", txns)
        if parts == ["v1", "balance"]:
            available = self._available(account_id)
            return web.json_response({"object": "balance", "livemode": False,
                                      "available": [{"amount": available, "currency": "eur"}],
                                      "pending": [{"amount": 0, "currency": "eur"}]})
        return await handler(request)

    def _list(self, request: web.Request, url: str, items: list[dict]) -> web.Response:
        limit = max(1, min(_int(request.query.get("limit")) or 10, 100))
        after = request.query.get("starting_after")
        if after:
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        return web.json_response({"object": "list", "url": url, "has_more": len(items) > limit,
                                  "data": items[:limit]})

    # --- routes --------------------------------------------------------------------------------
    def _add_routes(self) -> None:
        self.app.middlewares.insert(0, self.local_routes_middleware)
        self.app.middlewares.insert(2, self.idempotency_middleware)
        self.app.middlewares.append(self.connect_account_middleware)  # after localstripe's key check
        self.app.on_startup.append(self.on_startup)
        self.app.on_cleanup.append(self.on_cleanup)
        r = self.app.router
        r.add_post("/v1/accounts", self.account_create)
        r.add_get("/v1/accounts", self.account_list)
        r.add_get("/v1/accounts/{id}", self.account_retrieve)
        r.add_post("/v1/accounts/{id}", self.account_update)
        r.add_post("/v1/account_links", self.account_link_create)
        r.add_post("/v1/transfers", self.transfer_create)
        r.add_get("/v1/transfers", self.transfer_list)
        r.add_get("/v1/transfers/{id}", self.transfer_retrieve)
        r.add_post("/v1/transfers/{id}/reversals", self.transfer_reverse)
        r.add_get("/_atelier/onboard/{token}", self.onboarding_page)
        r.add_get("/_atelier/health", self.health)
        r.add_get("/_atelier/balance", self.balance_get)
        r.add_post("/_atelier/balance", self.balance_post)
        r.add_post("/_atelier/config", self.config_post)
        r.add_post("/_atelier/accounts/{id}/state", self.account_state_post)
        r.add_post("/_atelier/accounts/{id}/bank", self.bank_post)
        r.add_post("/_atelier/accounts/{id}/payouts", self.payout_now)
        r.add_get("/_atelier/events", self.events_get)
        r.add_delete("/_atelier/state", self.state_delete)

    async def _data(self, request: web.Request) -> dict:
        data = await self.server.get_post_data(request)
        return dict(data or {})

    # accounts
    async def account_create(self, request):
        data = await self._data(request)
        if data.get("type", "express") not in ("express", "custom", "standard"):
            return _error(400, "Invalid type: must be one of express, custom, standard", param="type")
        account = {
            "id": _id("acct_"), "object": "account", "type": data.get("type", "express"),
            "country": data.get("country", "DE"), "email": data.get("email"), "created": int(time.time()),
            "default_currency": "eur", "details_submitted": False, "charges_enabled": False, "payouts_enabled": False,
            "capabilities": {"transfers": "inactive"}, "metadata": data.get("metadata") or {},
            "requirements": {"currently_due": list(ONBOARDING_REQUIREMENTS), "eventually_due": [], "past_due": [],
                             "disabled_reason": "requirements.past_due"},
            "settings": {"payouts": {"schedule": {"interval": "daily", "delay_days": 2}}},
        }
        self.state.accounts[account["id"]] = account
        self.mark_dirty()
        return web.json_response(account)

    def _account(self, account_id: str):
        return self.state.accounts.get(account_id)

    async def account_retrieve(self, request):
        account = self._account(request.match_info["id"])
        if account is None:
            return _error(404, f"No such account: '{request.match_info['id']}'", code="resource_missing", param="id")
        return web.json_response(account)

    async def account_update(self, request):
        account = self._account(request.match_info["id"])
        if account is None:
            return _error(404, f"No such account: '{request.match_info['id']}'", code="resource_missing", param="id")
        data = await self._data(request)
        if "metadata" in data:
            account["metadata"].update(data["metadata"] or {})
        if "email" in data:
            account["email"] = data["email"]
        self.emit("account.updated", account, account=account["id"])
        return web.json_response(account)

    async def account_list(self, request):
        data = list(self.state.accounts.values())[::-1]
        return web.json_response({"object": "list", "url": "/v1/accounts", "has_more": False, "data": data[:100]})

    async def account_link_create(self, request):
        data = await self._data(request)
        account = self._account(data.get("account") or "")
        if account is None:
            return _error(400, f"No such account: '{data.get('account')}'", code="resource_missing", param="account")
        for field in ("refresh_url", "return_url"):
            if not str(data.get(field, "")).startswith("http"):
                return _error(400, f"Missing required param: {field}.", code="parameter_missing", param=field)
        token = secrets.token_urlsafe(16)
        base = self.public_url or f"{request.scheme}://{request.host}"
        link = {"object": "account_link", "created": int(time.time()), "expires_at": int(time.time()) + 300,
                "url": f"{base}/_atelier/onboard/{token}"}
        self.state.links[token] = {"account": account["id"], "return_url": data["return_url"],
                                   "refresh_url": data["refresh_url"], "expires_at": link["expires_at"], "used": False}
        self.mark_dirty()
        return web.json_response(link)

    async def onboarding_page(self, request):
        """Stripe's hosted onboarding, finished at once: details submitted, a working bank
        account (a new one, after a refused payout), payouts enabled; `account.updated` goes
        to the Connect endpoint whether or not the browser ever comes back."""
        link = self.state.links.get(request.match_info["token"])
        if link is None:
            return web.Response(status=404, text="This onboarding link does not exist.")
        if link["used"] or link["expires_at"] < time.time():
            raise web.HTTPFound(link["refresh_url"])
        link["used"] = True
        account = self.state.accounts[link["account"]]
        account.update(details_submitted=True, payouts_enabled=True, charges_enabled=True,
                       capabilities={"transfers": "active"},
                       requirements={"currently_due": [], "eventually_due": [], "past_due": [], "disabled_reason": None})
        self.state.banks[account["id"]] = {"id": _id("ba_"), "status": "new", "refuse": None}
        self.emit("account.updated", account, account=account["id"])
        if self._available(account["id"]) > 0:
            self._schedule_sweep(account["id"])  # payouts resume once the bank details are fixed
        raise web.HTTPFound(link["return_url"])

    async def account_state_post(self, request):
        account = self._account(request.match_info["id"])
        if account is None:
            return _error(404, "No such account", code="resource_missing")
        data = await self._data(request)
        for field in ("payouts_enabled", "details_submitted", "charges_enabled"):
            if field in data:
                account[field] = _truthy(data[field])
        if "requirements_due" in data:
            due = [r for r in str(data["requirements_due"]).split(",") if r]
            disabled = data.get("disabled_reason") or ("requirements.past_due" if due and not account["payouts_enabled"]
                                                       else None)
            account["requirements"] = {"currently_due": due, "eventually_due": [], "past_due": [],
                                       "disabled_reason": disabled}
        account["capabilities"] = {"transfers": "active" if account["payouts_enabled"] else "inactive"}
        self.emit("account.updated", account, account=account["id"])
        return web.json_response(account)

    # transfers
    async def transfer_create(self, request):
        data = await self._data(request)
        if self.transfer_latency_ms > 0:
            await asyncio.sleep(self.transfer_latency_ms / 1000)
        amount = _int(data.get("amount"))
        currency = str(data.get("currency") or "").lower()
        if amount is None or amount <= 0:
            return _error(400, "Invalid positive integer", code="parameter_invalid_integer", param="amount")
        if len(currency) != 3 or not currency.isalpha():
            return _error(400, "Invalid currency", code="parameter_invalid_string", param="currency")
        account = self._account(str(data.get("destination") or ""))
        if account is None:
            return _error(400, f"No such destination: '{data.get('destination')}'", code="resource_missing",
                          param="destination")
        if not account["payouts_enabled"]:
            return _error(400, "Your destination account needs to have at least one of the following capabilities "
                               "enabled: transfers, crypto_transfers, legacy_payments", code="account_invalid",
                          param="destination")
        if self.state.balance.get(currency, 0) < amount:
            return _error(400, "You have insufficient available funds in your Stripe account. Try adding funds "
                               "directly to your available balance by creating Charges using the "
                               "4000000000000077 test card.", code="balance_insufficient")
        self.state.balance[currency] -= amount
        transfer = {
            "id": _id("tr_"), "object": "transfer", "amount": amount, "amount_reversed": 0, "currency": currency,
            "destination": account["id"], "transfer_group": data.get("transfer_group"),
            "metadata": data.get("metadata") or {}, "description": data.get("description") or None,
            "created": int(time.time()), "reversed": False, "livemode": False,
            "balance_transaction": _id("txn_"), "destination_payment": _id("py_"),
            "reversals": {"object": "list", "data": [], "has_more": False, "total_count": 0},
        }
        self.state.transfers[transfer["id"]] = transfer
        # On the connected account the transfer is a payment into its balance.
        self._txn(account["id"], type_="payment", amount=amount, currency=currency,
                  source=transfer["destination_payment"], description=transfer["description"])
        self.mark_dirty()
        self.emit("transfer.created", transfer)
        self._schedule_sweep(account["id"])
        return web.json_response(transfer)

    async def transfer_retrieve(self, request):
        transfer = self.state.transfers.get(request.match_info["id"])
        if transfer is None:
            return _error(404, f"No such transfer: '{request.match_info['id']}'", code="resource_missing", param="id")
        return web.json_response(transfer)

    async def transfer_list(self, request):
        query = self.server.unflatten_data(request.query) or {}
        found = list(self.state.transfers.values())[::-1]
        if query.get("transfer_group"):
            found = [t for t in found if t.get("transfer_group") == query["transfer_group"]]
        if query.get("destination"):
            found = [t for t in found if t["destination"] == query["destination"]]
        for key, value in (query.get("metadata") or {}).items():
            found = [t for t in found if str(t["metadata"].get(key)) == str(value)]
        return self._list(request, "/v1/transfers", found)

    async def transfer_reverse(self, request):
        transfer = self.state.transfers.get(request.match_info["id"])
        if transfer is None:
            return _error(404, "No such transfer", code="resource_missing", param="id")
        data = await self._data(request)
        left = transfer["amount"] - transfer["amount_reversed"]
        amount = _int(data.get("amount")) if data.get("amount") is not None else left
        if amount is None or amount <= 0 or amount > left:
            return _error(400, "The reversal amount is more than what is left of the transfer.", param="amount")
        if self._available(transfer["destination"]) < amount:
            # As on Stripe: money the account already paid out to its bank is not there to take back.
            return _error(400, "Insufficient funds in the destination account to reverse this transfer.",
                          code="balance_insufficient")
        reversal = {"id": _id("trr_"), "object": "transfer_reversal", "amount": amount, "currency": transfer["currency"],
                    "transfer": transfer["id"], "created": int(time.time()), "metadata": data.get("metadata") or {},
                    "destination_payment_refund": _id("pyr_")}
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].append(reversal)
        transfer["reversals"]["total_count"] += 1
        self.state.balance[transfer["currency"]] = self.state.balance.get(transfer["currency"], 0) + amount
        self._txn(transfer["destination"], type_="payment_refund", amount=-amount, currency=transfer["currency"],
                  source=reversal["destination_payment_refund"])
        self.emit("transfer.reversed", transfer)
        return web.json_response(reversal)

    # the connected accounts' balances and payouts
    def _txn(self, account_id: str, *, type_: str, amount: int, currency: str, source: str,
             description: str | None = None) -> dict:
        now = int(time.time())
        txn = {"id": _id("txn_"), "object": "balance_transaction", "amount": amount, "currency": currency,
               "available_on": now, "created": now, "description": description, "fee": 0, "fee_details": [],
               "net": amount, "reporting_category": {"payment": "charge", "payment_refund": "refund",
                                                     "payout": "payout", "payout_failure": "payout_reversal"}[type_],
               "source": source, "status": "available", "type": type_}
        self.state.balance_txns.setdefault(account_id, []).append(txn)
        self.mark_dirty()
        return txn

    def _unpaid_txns(self, account_id: str) -> list[dict]:
        return [t for t in self.state.balance_txns.get(account_id, [])
                if t["type"] != "payout" and t["id"] not in self.state.paid_in]

    def _available(self, account_id: str) -> int:
        return sum(t["amount"] for t in self._unpaid_txns(account_id))

    def _schedule_sweep(self, account_id: str) -> None:
        if self.payout_delay_ms < 0 or account_id in self._sweeps:
            return
        loop = asyncio.get_event_loop()
        self._sweeps[account_id] = loop.call_later(self.payout_delay_ms / 1000, self._scheduled_sweep, account_id)

    def _scheduled_sweep(self, account_id: str) -> None:
        self._sweeps.pop(account_id, None)
        payout = self.sweep(account_id)
        if payout is not None:
            self._schedule_finish(account_id, payout["id"])

    def _schedule_finish(self, account_id: str, payout_id: str) -> None:
        loop = asyncio.get_event_loop()
        loop.call_later(max(0, self.arrival_delay_ms) / 1000, self.finish, account_id, payout_id)

    def sweep(self, account_id: str) -> dict | None:
        """The account's automatic payout: its whole available balance to its bank account.
        None when there is nothing to pay out, or the bank account is errored (Stripe stops
        payouts until the details are updated)."""
        account = self._account(account_id)
        bank = self.state.banks.get(account_id)
        txns = self._unpaid_txns(account_id)
        amount = sum(t["amount"] for t in txns)
        if account is None or not account["payouts_enabled"] or bank is None or bank["status"] == "errored" \
                or amount <= 0:
            return None
        now = int(time.time())
        payout = {"id": _id("po_"), "object": "payout", "amount": amount, "currency": txns[0]["currency"],
                  "arrival_date": now - now % 86400 + 86400, "automatic": True, "balance_transaction": None,
                  "created": now, "description": "STRIPE PAYOUT", "destination": bank["id"],
                  "failure_balance_transaction": None, "failure_code": None, "failure_message": None,
                  "livemode": False, "metadata": {}, "method": "standard", "original_payout": None,
                  "reconciliation_status": "completed", "reversed_by": None, "source_type": "card",
                  "statement_descriptor": None, "status": "pending", "type": "bank_account"}
        for txn in txns:
            self.state.paid_in[txn["id"]] = payout["id"]
        payout["balance_transaction"] = self._txn(account_id, type_="payout", amount=-amount,
                                                  currency=payout["currency"], source=payout["id"])["id"]
        self.state.payouts.setdefault(account_id, {})[payout["id"]] = payout
        self.emit("payout.created", payout, account=account_id)
        payout["status"] = "in_transit"
        self.emit("payout.updated", payout, account=account_id)
        return payout

    def finish(self, account_id: str, payout_id: str) -> dict | None:
        """The bank's answer: paid, or refused (a refusal queued with /_atelier/.../bank),
        possibly after the payout first showed as paid, as Stripe's docs warn it can."""
        payout = self.state.payouts.get(account_id, {}).get(payout_id)
        if payout is None or payout["status"] not in ("pending", "in_transit"):
            return payout
        bank = self.state.banks.get(account_id) or {}
        refuse = bank.get("refuse")
        if refuse and refuse.get("after_paid"):
            payout["status"] = "paid"
            self.emit("payout.paid", payout, account=account_id)
        if not refuse:
            payout["status"] = "paid"
            self.emit("payout.paid", payout, account=account_id)
            self.mark_dirty()
            return payout
        payout.update(status="failed", failure_code=refuse["code"],
                      failure_message=refuse.get("message") or PAYOUT_FAILURES.get(refuse["code"],
                                                                                   "The bank refused the payout."))
        # The money comes back to the connected account's balance, and the bank account is
        # errored: no payouts until the account holder gives new details.
        payout["failure_balance_transaction"] = self._txn(
            account_id, type_="payout_failure", amount=payout["amount"], currency=payout["currency"],
            source=payout["id"])["id"]
        bank.update(status="errored", refuse=None)
        self.emit("payout.failed", payout, account=account_id)
        account = self._account(account_id)
        if account is not None:
            due = list(dict.fromkeys([*account["requirements"].get("currently_due", []), "external_account"]))
            account["requirements"] = {**account["requirements"], "currently_due": due}
            self.emit("account.updated", account, account=account_id)
        self.mark_dirty()
        return payout

    async def bank_post(self, request):
        """Test plumbing: the account's bank refuses its next payout (`code`, optional
        `message`, `after_paid`: first reported paid, then failed); `code=` clears it."""
        account = self._account(request.match_info["id"])
        bank = self.state.banks.get(request.match_info["id"])
        if account is None or bank is None:
            return _error(404, "No such account with a bank account", code="resource_missing")
        data = await self._data(request)
        code = str(data.get("code") or "")
        bank["refuse"] = {"code": code, "message": str(data.get("message") or "") or None,
                          "after_paid": _truthy(data.get("after_paid", ""))} if code else None
        self.mark_dirty()
        return web.json_response({"bank": bank})

    async def payout_now(self, request):
        """Test plumbing: run the account's payout schedule now (and, unless finish=false,
        the bank's answer too: for the new payout, or else for one still in transit).
        Returns the payout, or null when there was nothing to pay out or answer."""
        account_id = request.match_info["id"]
        if self._account(account_id) is None:
            return _error(404, "No such account", code="resource_missing")
        data = await self._data(request)
        finish = str(data.get("finish", "true")).lower() not in ("false", "0", "no")
        handle = self._sweeps.pop(account_id, None)
        if handle is not None:
            handle.cancel()
        payout = self.sweep(account_id)
        if payout is None and finish:
            waiting = [p for p in self.state.payouts.get(account_id, {}).values()
                       if p["status"] in ("pending", "in_transit")]
            payout = waiting[0] if waiting else None
        if payout is not None and finish:
            payout = self.finish(account_id, payout["id"])
        return web.json_response({"payout": payout})

    # plumbing
    async def health(self, request):
        return web.json_response({"ok": True})

    async def balance_get(self, request):
        return web.json_response({"available": self.state.balance})

    async def balance_post(self, request):
        data = await self._data(request)
        currency = str(data.get("currency") or "eur").lower()
        if "set" in data:
            value = _int(data["set"])
            if value is None or value < 0:
                return _error(400, "set is a non-negative integer", param="set")
            self.state.balance[currency] = value
        else:
            value = _int(data.get("amount"))
            if value is None:
                return _error(400, "amount is an integer", param="amount")
            self.state.balance[currency] = self.state.balance.get(currency, 0) + value
        self.mark_dirty()
        return web.json_response({"available": self.state.balance})

    async def config_post(self, request):
        data = await self._data(request)
        for name in ("webhook_url", "webhook_secret", "connect_webhook_url", "connect_webhook_secret"):
            if name in data:
                setattr(self.state, name, str(data[name] or ""))
        for name in ("payout_delay_ms", "arrival_delay_ms", "transfer_latency_ms"):
            if name in data:
                value = _int(data[name])
                if value is None:
                    return _error(400, f"{name} is an integer", param=name)
                setattr(self, name, value)
        self.mark_dirty()
        return web.json_response({"webhook_url": self.state.webhook_url,
                                  "connect_webhook_url": self.state.connect_webhook_url,
                                  "payout_delay_ms": self.payout_delay_ms, "arrival_delay_ms": self.arrival_delay_ms,
                                  "transfer_latency_ms": self.transfer_latency_ms})

    async def events_get(self, request):
        after = _int(request.query.get("after")) or 0
        events = []
        for entry in self.state.outbox[after:]:
            _, secret = self._target(entry)
            events.append(dict(entry, signature=self.sign(entry["payload"], secret=secret)) if secret else dict(entry))
        return web.json_response({"data": events})

    async def state_delete(self, request):
        keep = {name: getattr(self.state, name) for name in ("webhook_url", "webhook_secret", "connect_webhook_url",
                                                             "connect_webhook_secret")}
        for handle in self._sweeps.values():
            handle.cancel()
        self._sweeps.clear()
        self.state.reset()
        for name, value in keep.items():
            setattr(self.state, name, value)
        self.resources.store.clear()
        self.mark_dirty()
        return web.json_response({"ok": True})


def _canonical(body: bytes) -> bytes:
    """The same parameters in another order are the same request."""
    from urllib.parse import parse_qsl

    text = body.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), sort_keys=True).encode()
    except ValueError:
        return "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(text, keep_blank_values=True))).encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Stripe (localstripe + Connect) on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=None,
                        help="0 picks a free port (printed on start); default: STRIPE_PORT, else the --app-url's "
                             "port + 420 (the web app derives the same), else 8420")
    parser.add_argument("--state-dir", default="", help="keep state here across restarts (default: a fresh "
                                                       "temporary folder, removed on exit)")
    parser.add_argument("--app-url", default="", help="the web app's address (http://127.0.0.1:8000): both "
                                                     "webhook endpoints under it, unless given one by one")
    parser.add_argument("--webhook-url", default=os.environ.get("LOCALSTRIPE_WEBHOOK_URL", ""),
                        help="the platform endpoint (transfer events)")
    parser.add_argument("--connect-webhook-url", default="", help="the Connect endpoint (connected accounts' events)")
    parser.add_argument("--webhook-secrets-file", default="",
                        help="the demo's signing secrets (JSON, created if missing, shared with the web app)")
    parser.add_argument("--webhook-secret", default=os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
                        help="the platform endpoint's signing secret (default: STRIPE_WEBHOOK_SECRET)")
    parser.add_argument("--connect-webhook-secret", default=os.environ.get("STRIPE_CONNECT_WEBHOOK_SECRET", ""),
                        help="the Connect endpoint's signing secret (default: STRIPE_CONNECT_WEBHOOK_SECRET)")
    parser.add_argument("--balance", type=int, default=DEFAULT_BALANCE_MINOR,
                        help="initial platform balance in eur cents")
    parser.add_argument("--payout-delay-ms", type=int, default=2000,
                        help="the connected accounts' payout schedule: milliseconds between money landing in an "
                             "account's balance and its automatic payout; negative: only when asked")
    parser.add_argument("--arrival-delay-ms", type=int, default=2000,
                        help="milliseconds between an automatic payout and the bank's answer (payout.paid/failed)")
    parser.add_argument("--public-url", default="", help="base URL for onboarding links (default: the request's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s localstripe %(message)s")

    secrets_ = {"platform": args.webhook_secret, "connect": args.connect_webhook_secret}
    if args.webhook_secrets_file:
        from payments.local_secrets import demo_webhook_secrets

        shared = demo_webhook_secrets(args.webhook_secrets_file)
        secrets_ = {kind: secrets_[kind] or shared[kind] for kind in secrets_}
    app_url = args.app_url.rstrip("/")
    if args.port is None:
        from urllib.parse import urlsplit

        from payments.local_secrets import local_stripe_port

        override = int(os.environ.get("STRIPE_PORT") or 0)
        web_port = urlsplit(app_url).port if app_url else None
        args.port = local_stripe_port(web_port, override) if web_port else (override or 8420)
    webhook_url = args.webhook_url or (f"{app_url}/webhooks/stripe/" if app_url else "")
    connect_url = args.connect_webhook_url or (f"{app_url}/webhooks/stripe/connect/" if app_url else "")

    temporary = not args.state_dir
    folder = Path(args.state_dir or tempfile.mkdtemp(prefix="atelier-localstripe-")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    local = LocalStripe(folder=folder, balance_minor=args.balance, webhook_url=webhook_url,
                        webhook_secret=secrets_["platform"], connect_webhook_url=connect_url,
                        connect_webhook_secret=secrets_["connect"], payout_delay_ms=args.payout_delay_ms,
                        arrival_delay_ms=args.arrival_delay_ms, public_url=args.public_url, persist=not temporary)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)  # connections made right after "ready" wait in the backlog, never refused
    port = sock.getsockname()[1]
    print(f"localstripe ready on http://{args.host}:{port} (state in {folder}; webhooks to "
          f"{webhook_url or 'nowhere'} and {connect_url or 'nowhere'})", flush=True)
    try:
        web.run_app(local.app, sock=sock, access_log=None, print=None, handle_signals=True)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
