"""Builders for the payments and finance tests, and objects for the authorization matrix."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from payments.models import ConnectedAccount, LedgerEntry, Payout, PayoutLine, PayoutRun, PayoutRunAttempt, WebhookEvent
from tester_platform.audit.models import AuditEvent
from tests.labour.helpers import make_rate_card


def accept_labour(artist, program, moderator, *, severity: str = "high"):
    """One feedback report, accepted: the ledger gets the card's bounty for `severity`."""
    from tester_platform.labour.services import feedback_review, feedback_submit

    report = feedback_submit(
        artist=artist,
        program=program,
        category="bug",
        severity=severity,
        title=f"Report by {artist.email}",
        body="Hands melt at frame 5.",
    )
    return feedback_review(report=report, reviewer=moderator, decision="accept")


def ledger_unpaid(artist) -> int:
    return sum(LedgerEntry.objects.filter(artist=artist).values_list("amount_minor", flat=True))


def enabled_account(artist, *, stripe_account_id: str | None = None, enabled: bool = True) -> ConnectedAccount:
    """A connected account row without Stripe (for tests that never send)."""
    return ConnectedAccount.objects.create(
        artist=artist,
        stripe_account_id=stripe_account_id or f"acct_{uuid.uuid4().hex[:12]}",
        details_submitted=enabled,
        payouts_enabled=enabled,
        requirements_due=[] if enabled else ["external_account"],
    )


def prepare_and_approve(*, program=None, approver=None, period_end=None, preparer=None):
    """The engine's four-eyes path in one call, for tests about what happens after approval:
    a run prepared (by `preparer`, default the schedule) and approved by `approver` (default
    a finance user made for it)."""
    from payments.payouts import payout_run_approve, payout_run_create
    from tester_platform.accounts.roles import FINANCE
    from tests.factories import UserFactory

    if approver is None:
        approver = UserFactory(email=f"approver-{uuid.uuid4().hex[:6]}@example.test", roles=[FINANCE])
    run = payout_run_create(
        period_end=period_end or timezone.localdate(), program_id=getattr(program, "pk", program), created_by=preparer
    )
    return payout_run_approve(run_id=run.pk, approved_by=approver)


def rows() -> dict[str, int]:
    return {
        "runs": PayoutRun.objects.count(),
        "payouts": Payout.objects.count(),
        "lines": PayoutLine.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "events": WebhookEvent.objects.count(),
        "accounts": ConnectedAccount.objects.count(),
        "audit": AuditEvent.objects.count(),
        "attempts": PayoutRunAttempt.objects.count(),
    }


def yesterday() -> dt.date:
    return timezone.localdate() - dt.timedelta(days=1)


# --- for the authorization matrix (tests/access): payout objects in its world ---------------


def matrix_stripe(world):
    """Point the SDK at the session's local Stripe (started on first use). The matrix has no
    fixture hook, so this sets the settings for the rest of the session: every test that
    talks to Stripe uses this same server (the fixture `stripe_server` re-points anyway)."""
    from django.conf import settings

    from tests.payments.stripe_server import CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET, local_stripe

    server = local_stripe()
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_WEBHOOK_SECRET
    return {}


def matrix_payout(world) -> Payout:
    """A sent payout to the world's owner, in a run (no Stripe call: rows only)."""
    owner = world.user("owner")
    make_rate_card(world.program) if not world.program.rate_cards.exists() else None
    account = ConnectedAccount.objects.filter(artist=owner).first() or enabled_account(owner)
    run = PayoutRun.objects.create(
        program=world.program, period_end=yesterday(), as_of=timezone.now(), status=PayoutRun.Status.DONE
    )
    payout = Payout.objects.create(
        run=run,
        artist=owner,
        connected_account=account,
        amount_minor=1000,
        currency="EUR",
        status=Payout.Status.SENT,
        idempotency_key=f"matrix-{uuid.uuid4()}",
        stripe_transfer_id=f"tr_{uuid.uuid4().hex[:12]}",
        sent_at=timezone.now(),
    )
    PayoutLine.objects.create(payout=payout, program=world.program, amount_minor=1000)
    return payout


def matrix_run(world) -> PayoutRun:
    return matrix_payout(world).run


def make_owed(artist, program, amount_minor: int = 4200) -> None:
    """An artist with payouts enabled who is owed `amount_minor` today (no Stripe call)."""
    if not ConnectedAccount.objects.filter(artist=artist).exists():
        enabled_account(artist)
    LedgerEntry(
        artist=artist,
        program=program,
        kind="adjustment",
        amount_minor=amount_minor,
        currency="EUR",
        source_type="tests.owed",
        source_id=uuid.uuid4().hex[:16],
    ).save()


def matrix_owed(world) -> dict:
    """A body for "prepare a run": today's period, with the world's owner owed money."""
    make_owed(world.user("owner"), world.program)
    return {"period_end": timezone.localdate().isoformat()}


def matrix_prepared_run(world) -> PayoutRun:
    """A run awaiting approval, prepared by the world's finance user (so that user may not approve it)."""
    from payments.payouts import payout_run_create

    existing = PayoutRun.objects.filter(program=world.program, status=PayoutRun.Status.PREPARED).first()
    if existing is not None:  # a GET row asks once per role in the same world
        return existing
    make_owed(world.user("owner"), world.program)
    return payout_run_create(
        period_end=timezone.localdate(), program_id=world.program.pk, created_by=world.user("finance")
    )
