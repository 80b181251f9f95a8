"""Engine domain errors. Each carries the HTTP status the platform should answer with and,
where one input is at fault, the ``field`` to attach the message to: the shape every service
error of Atelier has (``code``, ``message``, ``field``, ``http_status``; see
generation/errors.py), read by the platform's page handler and its API's problem details."""

from __future__ import annotations

from typing import Any


class PaymentsError(Exception):
    http_status = 400
    code = "invalid"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field
        if code:
            self.code = code


class InvalidPosting(PaymentsError):
    """A posting the ledger refuses: zero or wrongly signed amount, bad currency (400)."""

    code = "invalid_posting"


class LedgerConflict(PaymentsError):
    """The source was already posted with different terms (409): a bug, never retried."""

    http_status = 409
    code = "ledger_conflict"


class ImmutableLedger(PaymentsError):
    """Ledger entries are append-only: corrections are new entries, never edits."""

    http_status = 409
    code = "ledger_immutable"


class PayoutError(PaymentsError):
    """A payout request the engine refuses (bad period, nothing to do) (400)."""

    code = "payout_invalid"


class PayoutConflict(PaymentsError):
    """The payout or run is not in a state that allows this (409)."""

    http_status = 409
    code = "payout_conflict"


class PayoutNotApproved(PayoutConflict):
    """A prepared run is executed before a second person approved it (409)."""

    code = "payout_run_not_approved"


class FourEyes(PaymentsError):
    """The person who prepared a payout run tries to approve it: money moves only after a
    second person looked at the amounts (403)."""

    http_status = 403
    code = "four_eyes"


class NothingToPay(PayoutError):
    """A run would pay nobody: it is not created. Carries who is owed money but was skipped,
    and why, so the person asking learns what to do (400)."""

    code = "nothing_to_pay"

    def __init__(self, *, period_end: object, skipped: list[dict[str, Any]]) -> None:
        reasons: dict[str, int] = {}
        for row in skipped:
            reasons[row["code"]] = reasons.get(row["code"], 0) + 1
        labels = {
            "no_account": "no payout account",
            "payouts_not_enabled": "payouts not enabled at Stripe",
            "below_minimum": "below the program's minimum",
            "in_flight": "a payout still in flight",
        }
        why = "; ".join(f"{n} {labels.get(code, code)}" for code, n in sorted(reasons.items()))
        message = f"Nothing to pay for the period ending {period_end:%d %b %Y}: no run was created."
        if skipped:
            message += f" Owed but not payable now: {why}."
        else:
            message += " Nobody is owed money earned up to then; choose a later period end."
        super().__init__(message, field=None)
        self.skipped = skipped
        self.period_end = period_end


class GatewayError(PaymentsError):
    """Stripe could not be reached or answered with a server error: retry later (502).
    Nothing was decided; a pending payout stays pending and a resumed run retries it."""

    http_status = 502
    code = "stripe_unavailable"


class TransferRefused(PaymentsError):
    """Stripe refused the request for a reason that retrying the same request will not
    change (insufficient platform balance, the account cannot receive transfers) (402)."""

    http_status = 402
    code = "stripe_refused"

    def __init__(self, message: str, *, stripe_code: str = "", field: str | None = None):
        super().__init__(message, field=field)
        self.stripe_code = stripe_code or "refused"


class WebhookSignatureInvalid(PaymentsError):
    """The webhook body does not carry a valid Stripe signature (400); nothing is stored."""

    code = "bad_signature"


class RateCardImmutable(PaymentsError):
    """A published rate card is never edited: artists agreed to those terms (409). Draft a
    new version instead."""

    http_status = 409
    code = "rate_card_immutable"


class InvalidRateCard(PaymentsError):
    """Rate card terms the engine refuses: a negative or non-integer amount, a bad
    currency, a daily cap outside one day (400)."""

    code = "rate_card_invalid"
