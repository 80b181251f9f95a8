"""Builders for the payments and finance tests, and objects for the authorization matrix."""
from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from payments.models import ConnectedAccount, LedgerEntry, Payout, PayoutLine, PayoutRun, WebhookEvent
from tester_platform.audit.models import AuditEvent
from tests.labour.helpers import make_rate_card


def accept_labour(artist, program, moderator, *, severity: str = "high"):
    """One feedback report, accepted: the ledger gets the card's bounty for `severity`."""
    from tester_platform.labour.services import feedback_review, feedback_submit

    report = feedback_submit(artist=artist, program=program, category="bug", severity=severity,
                             title=f"Report by {artist.email}", body="Hands melt at frame 5.")
    return feedback_review(report=report, reviewer=moderator, decision="accept")


def ledger_unpaid(artist) -> int:
    return sum(LedgerEntry.objects.filter(artist=artist).values_list("amount_minor", flat=True))


def enabled_account(artist, *, stripe_account_id: str | None = None, enabled: bool = True) -> ConnectedAccount:
    """A connected account row without Stripe (for tests that never send)."""
    return ConnectedAccount.objects.create(artist=artist, stripe_account_id=stripe_account_id or f"acct_{uuid.uuid4().hex[:12]}",
                                           details_submitted=enabled, payouts_enabled=enabled,
                                           requirements_due=[] if enabled else ["external_account"])


def rows() -> dict[str, int]:
    return {"runs": PayoutRun.objects.count(), "payouts": Payout.objects.count(),
            "lines": PayoutLine.objects.count(), "ledger": LedgerEntry.objects.count(),
            "events": WebhookEvent.objects.count(), "accounts": ConnectedAccount.objects.count(),
            "audit": AuditEvent.objects.count()}


def yesterday() -> dt.date:
    return timezone.localdate() - dt.timedelta(days=1)


# --- for the authorization matrix (tests/access): payout objects in its world ---------------

def matrix_stripe(world):
    """Point the SDK at the session's local Stripe (started on first use). The matrix has no
    fixture hook, so this sets the settings for the rest of the session: every test that
    talks to Stripe uses this same server (the fixture `stripe_server` re-points anyway)."""
    from django.conf import settings

    from tests.payments.stripe_server import WEBHOOK_SECRET, local_stripe

    server = local_stripe()
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return {}


def matrix_payout(world) -> Payout:
    """A sent payout to the world's owner, in a run (no Stripe call: rows only)."""
    owner = world.user("owner")
    make_rate_card(world.program) if not world.program.rate_cards.exists() else None
    account = ConnectedAccount.objects.filter(artist=owner).first() or enabled_account(owner)
    run = PayoutRun.objects.create(program=world.program, period_end=yesterday(),
                                   as_of=timezone.now(), status=PayoutRun.Status.DONE)
    payout = Payout.objects.create(run=run, artist=owner, connected_account=account, amount_minor=1000,
                                   currency="EUR", status=Payout.Status.SENT, idempotency_key=f"matrix-{uuid.uuid4()}",
                                   stripe_transfer_id=f"tr_{uuid.uuid4().hex[:12]}", sent_at=timezone.now())
    PayoutLine.objects.create(payout=payout, program=world.program, amount_minor=1000)
    return payout


def matrix_run(world) -> PayoutRun:
    return matrix_payout(world).run
