"""LocalStripe: localstripe's aiohttp app with the Connect routes it lacks (see the package
docstring), the idempotency middleware, the event outbox and its signed deliveries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import pickle
import secrets
import time
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, web

from devtools.localstripe.connect import ConnectMixin
from devtools.localstripe.state import ONBOARDING_REQUIREMENTS, State, _canonical, _error, _id, _int, _truthy

log = logging.getLogger("atelier.localstripe")


class LocalStripe(ConnectMixin):
    def __init__(
        self,
        *,
        folder: Path,
        balance_minor: int,
        webhook_url: str,
        webhook_secret: str,
        connect_webhook_url: str = "",
        connect_webhook_secret: str = "",
        payout_delay_ms: int = 2000,
        arrival_delay_ms: int = 2000,
        public_url: str = "",
        persist: bool = False,
    ):
        from localstripe import resources, server  # imported here: it is only the server's business

        self.resources = resources
        self.server = server
        self.state = State(folder, balance_minor=balance_minor)
        self.state.load()
        for name, value in (
            ("webhook_url", webhook_url),
            ("webhook_secret", webhook_secret),
            ("connect_webhook_url", connect_webhook_url),
            ("connect_webhook_secret", connect_webhook_secret),
        ):
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
        event = {
            "id": _id("evt_"),
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "type": type_,
            "livemode": False,
            "pending_webhooks": 1 if url else 0,
            "data": {"object": json.loads(json.dumps(obj))},
            "request": {"id": None, "idempotency_key": None},
        }
        if account:
            event["account"] = account
        payload = json.dumps(event, sort_keys=True)
        entry = {
            "seq": len(self.state.outbox) + 1,
            "id": event["id"],
            "type": type_,
            "payload": payload,
            "endpoint": endpoint,
            "account": account,
            "delivered": None,
        }
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
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": self.sign(entry["payload"], secret=secret),
            }
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
        fingerprint = hashlib.sha256(
            b"%s %s\n%s" % (request.method.encode(), request.path.encode(), _canonical(body))
        ).hexdigest()
        seen = self.state.idempotency.get(key)
        if seen is not None:
            if seen["fingerprint"] != fingerprint:
                return _error(
                    400,
                    f"Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    f"execute a different request.",
                    type_="idempotency_error",
                )
            if seen["status"] is None:
                return _error(
                    409,
                    "There is currently another in-progress request using this Stripe token (idempotency key).",
                    code="idempotency_key_in_use",
                )
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
            self.state.idempotency[key] = {
                "fingerprint": fingerprint,
                "status": response.status,
                "body": body_bytes.decode(),
            }
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
            "id": _id("acct_"),
            "object": "account",
            "type": data.get("type", "express"),
            "country": data.get("country", "DE"),
            "email": data.get("email"),
            "created": int(time.time()),
            "default_currency": "eur",
            "details_submitted": False,
            "charges_enabled": False,
            "payouts_enabled": False,
            "capabilities": {"transfers": "inactive"},
            "metadata": data.get("metadata") or {},
            "requirements": {
                "currently_due": list(ONBOARDING_REQUIREMENTS),
                "eventually_due": [],
                "past_due": [],
                "disabled_reason": "requirements.past_due",
            },
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
        link = {
            "object": "account_link",
            "created": int(time.time()),
            "expires_at": int(time.time()) + 300,
            "url": f"{base}/_atelier/onboard/{token}",
        }
        self.state.links[token] = {
            "account": account["id"],
            "return_url": data["return_url"],
            "refresh_url": data["refresh_url"],
            "expires_at": link["expires_at"],
            "used": False,
        }
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
        account.update(
            details_submitted=True,
            payouts_enabled=True,
            charges_enabled=True,
            capabilities={"transfers": "active"},
            requirements={"currently_due": [], "eventually_due": [], "past_due": [], "disabled_reason": None},
        )
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
            disabled = data.get("disabled_reason") or (
                "requirements.past_due" if due and not account["payouts_enabled"] else None
            )
            account["requirements"] = {
                "currently_due": due,
                "eventually_due": [],
                "past_due": [],
                "disabled_reason": disabled,
            }
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
            return _error(
                400, f"No such destination: '{data.get('destination')}'", code="resource_missing", param="destination"
            )
        if not account["payouts_enabled"]:
            return _error(
                400,
                "Your destination account needs to have at least one of the following capabilities "
                "enabled: transfers, crypto_transfers, legacy_payments",
                code="account_invalid",
                param="destination",
            )
        if self.state.balance.get(currency, 0) < amount:
            return _error(
                400,
                "You have insufficient available funds in your Stripe account. Try adding funds "
                "directly to your available balance by creating Charges using the "
                "4000000000000077 test card.",
                code="balance_insufficient",
            )
        self.state.balance[currency] -= amount
        transfer = {
            "id": _id("tr_"),
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "currency": currency,
            "destination": account["id"],
            "transfer_group": data.get("transfer_group"),
            "metadata": data.get("metadata") or {},
            "description": data.get("description") or None,
            "created": int(time.time()),
            "reversed": False,
            "livemode": False,
            "balance_transaction": _id("txn_"),
            "destination_payment": _id("py_"),
            "reversals": {"object": "list", "data": [], "has_more": False, "total_count": 0},
        }
        self.state.transfers[transfer["id"]] = transfer
        # On the connected account the transfer is a payment into its balance.
        self._txn(
            account["id"],
            type_="payment",
            amount=amount,
            currency=currency,
            source=transfer["destination_payment"],
            description=transfer["description"],
        )
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
            return _error(
                400,
                "Insufficient funds in the destination account to reverse this transfer.",
                code="balance_insufficient",
            )
        reversal = {
            "id": _id("trr_"),
            "object": "transfer_reversal",
            "amount": amount,
            "currency": transfer["currency"],
            "transfer": transfer["id"],
            "created": int(time.time()),
            "metadata": data.get("metadata") or {},
            "destination_payment_refund": _id("pyr_"),
        }
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].append(reversal)
        transfer["reversals"]["total_count"] += 1
        self.state.balance[transfer["currency"]] = self.state.balance.get(transfer["currency"], 0) + amount
        self._txn(
            transfer["destination"],
            type_="payment_refund",
            amount=-amount,
            currency=transfer["currency"],
            source=reversal["destination_payment_refund"],
        )
        self.emit("transfer.reversed", transfer)
        return web.json_response(reversal)

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
        return web.json_response(
            {
                "webhook_url": self.state.webhook_url,
                "connect_webhook_url": self.state.connect_webhook_url,
                "payout_delay_ms": self.payout_delay_ms,
                "arrival_delay_ms": self.arrival_delay_ms,
                "transfer_latency_ms": self.transfer_latency_ms,
            }
        )

    async def events_get(self, request):
        after = _int(request.query.get("after")) or 0
        events = []
        for entry in self.state.outbox[after:]:
            _, secret = self._target(entry)
            events.append(dict(entry, signature=self.sign(entry["payload"], secret=secret)) if secret else dict(entry))
        return web.json_response({"data": events})

    async def state_delete(self, request):
        keep = {
            name: getattr(self.state, name)
            for name in ("webhook_url", "webhook_secret", "connect_webhook_url", "connect_webhook_secret")
        }
        for handle in self._sweeps.values():
            handle.cancel()
        self._sweeps.clear()
        self.state.reset()
        for name, value in keep.items():
            setattr(self.state, name, value)
        self.resources.store.clear()
        self.mark_dirty()
        return web.json_response({"ok": True})
