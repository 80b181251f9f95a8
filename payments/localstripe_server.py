"""The local Stripe for the demo and the tests: localstripe (pip package, pinned), started
bound to 127.0.0.1 with its own state folder per run, plus what it lacks for Connect.

    python -m payments.localstripe_server --port 8420 \
        --webhook-url http://127.0.0.1:8000/webhooks/stripe/ --webhook-secret whsec_atelier_local

localstripe's own CLI binds every interface and pickles its state into one hard-coded
file in /tmp; this launcher imports its aiohttp app instead, points the pickle at the
run's state folder and adds routes from outside (nothing of localstripe is copied):

- /v1/accounts (create, retrieve, update, list): Express accounts;
- /v1/account_links: a URL to a local onboarding page on this server which, when opened,
  marks the account details_submitted + payouts_enabled, sends `account.updated` and
  redirects to the link's return_url;
- /v1/transfers (create, retrieve, list by transfer_group / destination / metadata) and
  /v1/transfers/{id}/reversals: a create checks the platform balance and that the
  destination can receive payouts, debits the balance, and sends `transfer.created` (then
  the legacy `transfer.paid`, after --paid-delay-ms; a negative delay sends none);
- Idempotency-Key on every POST: the same key and body give back the first answer; the
  same key with another body is a 400 `idempotency_error`, as on Stripe;
- webhooks, signed like Stripe's (t=..., v1=HMAC-SHA256), delivered in order to
  --webhook-url, and kept in an outbox that tests can read and replay;
- test-only routes under /_atelier/: top up or set the platform balance, configure the
  webhook target, change an account's state, fail a transfer (the `transfer.failed`
  path), read the outbox, and wipe everything.

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

    # Saving the whole state on every write would make N transfers cost O(N²): writes mark
    # the state dirty and one save runs at most every two seconds, and at shutdown.
    def dump(self) -> dict:
        return {k: getattr(self, k) for k in ("accounts", "links", "transfers", "balance", "idempotency",
                                              "outbox", "webhook_url", "webhook_secret")}

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
                 paid_delay_ms: int, public_url: str = "", persist: bool = False):
        from localstripe import resources, server  # imported here: it is only the server's business

        self.resources = resources
        self.server = server
        self.state = State(folder, balance_minor=balance_minor)
        self.state.load()
        if webhook_url:
            self.state.webhook_url = webhook_url
        if webhook_secret:
            self.state.webhook_secret = webhook_secret
        self.paid_delay_ms = paid_delay_ms
        # Saving serialises the whole state on the event loop: only a run that asked to keep
        # its state (--state-dir, the demo) pays for it; a temporary run lives in memory.
        self.persist = persist
        self.public_url = public_url
        self._dirty = False
        self._deliveries: asyncio.Queue | None = None
        self._session: ClientSession | None = None
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
    def emit(self, type_: str, obj: dict, *, delay_ms: int = 0) -> dict:
        event = {"id": _id("evt_"), "object": "event", "api_version": "2025-01-27.acacia", "created": int(time.time()),
                 "type": type_, "livemode": False, "pending_webhooks": 1 if self.state.webhook_url else 0,
                 "data": {"object": json.loads(json.dumps(obj))}, "request": {"id": None, "idempotency_key": None}}
        payload = json.dumps(event, sort_keys=True)
        entry = {"seq": len(self.state.outbox) + 1, "id": event["id"], "type": type_, "payload": payload,
                 "delivered": None}
        self.state.outbox.append(entry)
        self.mark_dirty()
        if self._deliveries is not None:
            self._deliveries.put_nowait((entry, delay_ms))
        return event

    def sign(self, payload: str, timestamp: int | None = None) -> str:
        timestamp = int(time.time()) if timestamp is None else timestamp
        mac = hmac.new(self.state.webhook_secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
        return f"t={timestamp},v1={mac.hexdigest()}"

    async def _deliverer(self) -> None:
        # One queue, one delivery at a time: events reach the endpoint in the order they happened.
        assert self._deliveries is not None
        while True:
            entry, delay_ms = await self._deliveries.get()
            if delay_ms > 0:
                await asyncio.sleep(delay_ms / 1000)
            if not self.state.webhook_url or not self.state.webhook_secret:
                continue
            headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": self.sign(entry["payload"])}
            for attempt in range(3):
                try:
                    assert self._session is not None
                    async with self._session.post(self.state.webhook_url, data=entry["payload"].encode(),
                                                  headers=headers) as response:
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

    async def on_cleanup(self, app: web.Application) -> None:
        for task in app.get("atelier_tasks", []):
            task.cancel()
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

    # --- routes --------------------------------------------------------------------------------
    def _add_routes(self) -> None:
        self.app.middlewares.insert(0, self.local_routes_middleware)
        self.app.middlewares.insert(2, self.idempotency_middleware)  # after the key check
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
        r.add_post("/_atelier/transfers/{id}/fail", self.transfer_fail)
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
        self.emit("account.updated", account)
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
        self.emit("account.updated", account)
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
            account["requirements"] = {"currently_due": due, "eventually_due": [], "past_due": [],
                                       "disabled_reason": "requirements.past_due" if due else None}
        account["capabilities"] = {"transfers": "active" if account["payouts_enabled"] else "inactive"}
        self.emit("account.updated", account)
        return web.json_response(account)

    # transfers
    async def transfer_create(self, request):
        data = await self._data(request)
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
        self.mark_dirty()
        self.emit("transfer.created", transfer)
        if self.paid_delay_ms >= 0:
            self.emit("transfer.paid", transfer, delay_ms=self.paid_delay_ms)
        return web.json_response(transfer)

    async def transfer_retrieve(self, request):
        transfer = self.state.transfers.get(request.match_info["id"])
        if transfer is None:
            return _error(404, f"No such transfer: '{request.match_info['id']}'", code="resource_missing", param="id")
        return web.json_response(transfer)

    async def transfer_list(self, request):
        query = self.server.unflatten_data(request.query) or {}
        limit = _int(query.get("limit")) or 10
        found = list(self.state.transfers.values())[::-1]
        if query.get("transfer_group"):
            found = [t for t in found if t.get("transfer_group") == query["transfer_group"]]
        if query.get("destination"):
            found = [t for t in found if t["destination"] == query["destination"]]
        for key, value in (query.get("metadata") or {}).items():
            found = [t for t in found if str(t["metadata"].get(key)) == str(value)]
        return web.json_response({"object": "list", "url": "/v1/transfers", "has_more": len(found) > limit,
                                  "data": found[:limit]})

    async def transfer_reverse(self, request):
        transfer = self.state.transfers.get(request.match_info["id"])
        if transfer is None:
            return _error(404, "No such transfer", code="resource_missing", param="id")
        data = await self._data(request)
        left = transfer["amount"] - transfer["amount_reversed"]
        amount = _int(data.get("amount")) if data.get("amount") is not None else left
        if amount is None or amount <= 0 or amount > left:
            return _error(400, "The reversal amount is more than what is left of the transfer.", param="amount")
        reversal = {"id": _id("trr_"), "object": "transfer_reversal", "amount": amount, "currency": transfer["currency"],
                    "transfer": transfer["id"], "created": int(time.time()), "metadata": data.get("metadata") or {}}
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].append(reversal)
        transfer["reversals"]["total_count"] += 1
        self.state.balance[transfer["currency"]] = self.state.balance.get(transfer["currency"], 0) + amount
        self.emit("transfer.reversed", transfer)
        return web.json_response(reversal)

    async def transfer_fail(self, request):
        """The asynchronous failure path (legacy `transfer.failed`): funds come back."""
        transfer = self.state.transfers.get(request.match_info["id"])
        if transfer is None:
            return _error(404, "No such transfer", code="resource_missing")
        data = await self._data(request)
        transfer["failure_code"] = data.get("code") or "account_closed"
        transfer["failure_message"] = data.get("message") or "The destination account was closed."
        transfer["status"] = "failed"
        self.state.balance[transfer["currency"]] = self.state.balance.get(transfer["currency"], 0) + transfer["amount"]
        self.emit("transfer.failed", transfer)
        return web.json_response(transfer)

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
        if "webhook_url" in data:
            self.state.webhook_url = str(data["webhook_url"] or "")
        if "webhook_secret" in data:
            self.state.webhook_secret = str(data["webhook_secret"] or "")
        if "paid_delay_ms" in data:
            delay = _int(data["paid_delay_ms"])
            if delay is None:
                return _error(400, "paid_delay_ms is an integer", param="paid_delay_ms")
            self.paid_delay_ms = delay
        self.mark_dirty()
        return web.json_response({"webhook_url": self.state.webhook_url, "paid_delay_ms": self.paid_delay_ms})

    async def events_get(self, request):
        after = _int(request.query.get("after")) or 0
        events = [dict(e, signature=self.sign(e["payload"])) if self.state.webhook_secret else dict(e)
                  for e in self.state.outbox[after:]]
        return web.json_response({"data": events})

    async def state_delete(self, request):
        url, secret = self.state.webhook_url, self.state.webhook_secret
        self.state.reset()
        self.state.webhook_url, self.state.webhook_secret = url, secret
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
    parser.add_argument("--port", type=int, default=8420, help="0 picks a free port (printed on start)")
    parser.add_argument("--state-dir", default="", help="keep state here across restarts (default: a fresh "
                                                       "temporary folder, removed on exit)")
    parser.add_argument("--webhook-url", default=os.environ.get("LOCALSTRIPE_WEBHOOK_URL", ""))
    parser.add_argument("--webhook-secret", default=os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_atelier_local"))
    parser.add_argument("--balance", type=int, default=DEFAULT_BALANCE_MINOR,
                        help="initial platform balance in eur cents")
    parser.add_argument("--paid-delay-ms", type=int, default=300,
                        help="milliseconds between transfer.created and transfer.paid; negative: no paid events")
    parser.add_argument("--public-url", default="", help="base URL for onboarding links (default: the request's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s localstripe %(message)s")

    temporary = not args.state_dir
    folder = Path(args.state_dir or tempfile.mkdtemp(prefix="atelier-localstripe-")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    local = LocalStripe(folder=folder, balance_minor=args.balance, webhook_url=args.webhook_url,
                        webhook_secret=args.webhook_secret, paid_delay_ms=args.paid_delay_ms, public_url=args.public_url,
                        persist=not temporary)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)  # connections made right after "ready" wait in the backlog, never refused
    port = sock.getsockname()[1]
    print(f"localstripe ready on http://{args.host}:{port} (state in {folder})", flush=True)
    try:
        web.run_app(local.app, sock=sock, access_log=None, print=None, handle_signals=True)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
