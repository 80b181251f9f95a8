"""The connected accounts' side of the local Stripe: their balances (balance transactions),
their automatic payouts to the bank and the bank's answer, and what Stripe lists for an
account when asked with the Stripe-Account header. A mixin of LocalStripe."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from devtools.localstripe.state import PAYOUT_FAILURES, _error, _id, _int, _truthy


class ConnectMixin:
    @web.middleware
    async def connect_account_middleware(self, request: web.Request, handler):
        """Requests made for a connected account (the Stripe-Account header): its payouts,
        balance transactions and balance. localstripe has platform-only routes of the same
        paths, so these are matched here, after the key check."""
        account_id = request.headers.get("Stripe-Account")
        if not account_id or request.method != "GET":
            return await handler(request)
        if account_id not in self.state.accounts:
            return _error(
                403,
                f"The provided key does not have access to account '{account_id}' (or that "
                f"account does not exist). Application access may have been revoked.",
                code="account_invalid",
                type_="invalid_request_error",
            )
        parts = [p for p in request.path.split("/") if p]
        if parts == ["v1", "payouts"]:
            payouts = sorted(
                self.state.payouts.get(account_id, {}).values(), key=lambda p: (p["created"], p["id"]), reverse=True
            )
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
            return web.json_response(
                {
                    "object": "balance",
                    "livemode": False,
                    "available": [{"amount": available, "currency": "eur"}],
                    "pending": [{"amount": 0, "currency": "eur"}],
                }
            )
        return await handler(request)

    def _list(self, request: web.Request, url: str, items: list[dict]) -> web.Response:
        limit = max(1, min(_int(request.query.get("limit")) or 10, 100))
        after = request.query.get("starting_after")
        if after:
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        return web.json_response({"object": "list", "url": url, "has_more": len(items) > limit, "data": items[:limit]})

    # --- routes --------------------------------------------------------------------------------

    # the connected accounts' balances and payouts
    def _txn(
        self, account_id: str, *, type_: str, amount: int, currency: str, source: str, description: str | None = None
    ) -> dict:
        now = int(time.time())
        txn = {
            "id": _id("txn_"),
            "object": "balance_transaction",
            "amount": amount,
            "currency": currency,
            "available_on": now,
            "created": now,
            "description": description,
            "fee": 0,
            "fee_details": [],
            "net": amount,
            "reporting_category": {
                "payment": "charge",
                "payment_refund": "refund",
                "payout": "payout",
                "payout_failure": "payout_reversal",
            }[type_],
            "source": source,
            "status": "available",
            "type": type_,
        }
        self.state.balance_txns.setdefault(account_id, []).append(txn)
        self.mark_dirty()
        return txn

    def _unpaid_txns(self, account_id: str) -> list[dict]:
        return [
            t
            for t in self.state.balance_txns.get(account_id, [])
            if t["type"] != "payout" and t["id"] not in self.state.paid_in
        ]

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
        if (
            account is None
            or not account["payouts_enabled"]
            or bank is None
            or bank["status"] == "errored"
            or amount <= 0
        ):
            return None
        now = int(time.time())
        payout = {
            "id": _id("po_"),
            "object": "payout",
            "amount": amount,
            "currency": txns[0]["currency"],
            "arrival_date": now - now % 86400 + 86400,
            "automatic": True,
            "balance_transaction": None,
            "created": now,
            "description": "STRIPE PAYOUT",
            "destination": bank["id"],
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": {},
            "method": "standard",
            "original_payout": None,
            "reconciliation_status": "completed",
            "reversed_by": None,
            "source_type": "card",
            "statement_descriptor": None,
            "status": "pending",
            "type": "bank_account",
        }
        for txn in txns:
            self.state.paid_in[txn["id"]] = payout["id"]
        payout["balance_transaction"] = self._txn(
            account_id, type_="payout", amount=-amount, currency=payout["currency"], source=payout["id"]
        )["id"]
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
        payout.update(
            status="failed",
            failure_code=refuse["code"],
            failure_message=refuse.get("message")
            or PAYOUT_FAILURES.get(refuse["code"], "The bank refused the payout."),
        )
        # The money comes back to the connected account's balance, and the bank account is
        # errored: no payouts until the account holder gives new details.
        payout["failure_balance_transaction"] = self._txn(
            account_id,
            type_="payout_failure",
            amount=payout["amount"],
            currency=payout["currency"],
            source=payout["id"],
        )["id"]
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
        bank["refuse"] = (
            {
                "code": code,
                "message": str(data.get("message") or "") or None,
                "after_paid": _truthy(data.get("after_paid", "")),
            }
            if code
            else None
        )
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
            waiting = [
                p for p in self.state.payouts.get(account_id, {}).values() if p["status"] in ("pending", "in_transit")
            ]
            payout = waiting[0] if waiting else None
        if payout is not None and finish:
            payout = self.finish(account_id, payout["id"])
        return web.json_response({"payout": payout})

    # plumbing
