"""Four eyes before money moves: a run is prepared (a preview), approved by a finance user
who did not prepare it, and only then sent; every step is in the audit trail; the schedule
prepares but never approves."""

from __future__ import annotations

import pytest
from django.utils import timezone

from payments.errors import FourEyes, PayoutNotApproved
from payments.models import Payout, PayoutRun
from payments.payouts import payout_run_execute
from tester_platform.accounts.roles import FINANCE
from tester_platform.audit.models import AuditEvent
from tester_platform.finance.services import payout_run_approve, payout_run_prepare
from tester_platform.finance.services import payout_run_execute as service_execute
from tester_platform.finance.tasks import payout_run_execute_task, scheduled_payout_runs_task
from tests.conftest import api_as
from tests.factories import UserFactory
from tests.finance.helpers import accept_labour, make_owed, rows
from tests.labour.helpers import make_rate_card
from tests.payments.test_payout_runs import onboard_over_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_finance_user(db):
    return UserFactory(email="finance-two@example.test", roles=[FINANCE])


def test_the_preparer_cannot_approve_on_the_page_the_api_or_the_service(client, finance_user, artist, program):
    make_owed(artist, program)
    run = payout_run_prepare(actor=finance_user, period_end=timezone.localdate(), program=program)
    before = rows()
    client.force_login(finance_user)
    page = client.get(f"/finance/runs/{run.pk}/").content.decode()
    assert 'id="four-eyes-note"' in page and 'id="run-approve"' not in page
    response = client.post(f"/finance/runs/{run.pk}/approve/", follow=True)
    assert "a second finance user approves it" in response.content.decode()
    api = api_as(finance_user).post(f"/api/v1/payout-runs/{run.pk}/approve/", {}, format="json")
    assert api.status_code == 403 and api.json()["code"] == "four_eyes"
    with pytest.raises(FourEyes):
        payout_run_approve(actor=finance_user, run=run)
    # Nor can anyone execute a run nobody approved.
    with pytest.raises(PayoutNotApproved):
        payout_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "prepared" and run.approved_by is None and rows() == before


def test_a_second_finance_users_approval_sends_exactly_the_previewed_amounts_and_every_step_is_audited(
    stripe_server, client, program, artist, other_artist, moderator, finance_user, second_finance_user
):
    make_rate_card(program, bounty_high_minor=2500, bounty_medium_minor=1000)
    for person in (artist, other_artist):
        onboard_over_api(stripe_server, client, person)
    accept_labour(artist, program, moderator, severity="high")
    accept_labour(artist, program, moderator, severity="medium")
    accept_labour(other_artist, program, moderator, severity="medium")

    preview = (
        api_as(finance_user)
        .post("/api/v1/payout-runs/", {"period_end": timezone.localdate().isoformat()}, format="json")
        .json()
    )
    previewed = sorted((p["artist"], p["amount"], p["currency"]) for p in preview["payouts"])
    assert previewed == sorted([(artist.pk, 3500, "EUR"), (other_artist.pk, 1000, "EUR")])
    # Work accepted after the preview is not slipped into it.
    accept_labour(other_artist, program, moderator, severity="high")
    client.force_login(second_finance_user)
    page = client.get(f"/finance/runs/{preview['id']}/").content.decode()
    assert 'id="run-approve"' in page and preview["preview_digest"] in page
    response = client.post(f"/finance/runs/{preview['id']}/approve/", {"digest": preview["preview_digest"]})
    assert response.status_code == 302
    assert payout_run_execute_task(preview["id"]) == "done"

    by_destination = {
        p.connected_account.stripe_account_id: p for p in Payout.objects.select_related("connected_account")
    }
    sent = sorted(
        (by_destination[t["destination"]].artist_id, t["amount"], t["currency"].upper())
        for t in stripe_server.transfers()
    )
    assert sent == previewed

    run = PayoutRun.objects.get(pk=preview["id"])
    assert (run.created_by, run.approved_by) == (finance_user, second_finance_user)
    trail = list(
        AuditEvent.objects.filter(target_id=str(run.pk), action__startswith="payout_run.")
        .order_by("pk")
        .values_list("action", "actor_id")
    )
    assert trail == [
        ("payout_run.prepared", finance_user.pk),
        ("payout_run.approved", second_finance_user.pk),
        ("payout_run.executed", None),
    ]
    assert AuditEvent.objects.filter(action="payout.sent").count() == 2


def test_a_discarded_run_sends_nothing_and_frees_the_artists_for_the_next_run(
    finance_user, second_finance_user, artist, program
):
    make_owed(artist, program)
    run = payout_run_prepare(actor=finance_user, period_end=timezone.localdate(), program=program)
    api_as(finance_user).post(f"/api/v1/payout-runs/{run.pk}/discard/")
    run.refresh_from_db()
    assert run.status == "discarded" and run.payouts.get().status == "discarded"
    assert AuditEvent.objects.filter(action="payout_run.discarded", actor=finance_user).exists()
    again = payout_run_prepare(actor=second_finance_user, period_end=timezone.localdate(), program=program)
    assert again.payouts.get().amount_minor == 4200
    assert service_execute(run_id=run.pk, actor=second_finance_user).status == "discarded"  # nothing sent
    assert not run.attempts.exists()
    assert (
        api_as(second_finance_user).post(f"/api/v1/payout-runs/{run.pk}/approve/", {}, format="json").status_code == 409
    )


def test_the_schedule_prepares_runs_for_the_last_closed_period_and_never_approves(
    artist, other_artist, program, other_program, finance_user
):
    import datetime as dt

    from payments.models import LedgerEntry

    sunday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday() + 1)
    make_owed(artist, program)  # today: after the closed period
    make_owed(other_artist, program)
    old = timezone.make_aware(dt.datetime.combine(sunday, dt.time(12)))
    LedgerEntry(
        artist=other_artist,
        program=program,
        kind="adjustment",
        amount_minor=700,
        currency="EUR",
        source_type="tests.owed",
        source_id="closed-week",
        created_at=old,
    ).save()
    runs = scheduled_payout_runs_task()
    assert len(runs) == 1  # the other program owes nothing: no run
    run = PayoutRun.objects.get(pk=runs[0])
    assert (run.status, run.scheduled, run.created_by, run.approved_by, run.period_end) == (
        "prepared",
        True,
        None,
        None,
        sunday,
    )
    assert [(p.artist_id, p.amount_minor) for p in run.payouts.all()] == [(other_artist.pk, 700)]
    # A person approves it (no preparer to differ from); the schedule itself never does.
    approved = payout_run_approve(actor=finance_user, run=run)
    assert approved.status == "approved" and approved.approved_by == finance_user
