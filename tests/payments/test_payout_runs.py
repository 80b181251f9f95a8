"""Payout runs against the local Stripe over HTTP, through the real SDK: prepared, approved
by a second person, sent exactly once, and followed through the Connect lifecycle."""

from __future__ import annotations

import pytest
from django.utils import timezone

from payments import gateway
from payments import payouts as payouts_module
from payments.errors import GatewayError, NothingToPay
from payments.models import LedgerEntry, Payout, PayoutRun, WebhookEvent
from payments.payouts import payout_run_create, payout_run_execute, payout_run_resume
from payments.signals import payouts_updated
from tester_platform.finance.tasks import payout_run_execute_task
from tests.conftest import api_as
from tests.finance.helpers import accept_labour, ledger_unpaid, prepare_and_approve
from tests.labour.helpers import make_rate_card
from tests.payments.stripe_server import deliver, deliver_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(program):
    return make_rate_card(program, bounty_high_minor=2500, bounty_medium_minor=1000, minimum_payout_minor=500)


@pytest.fixture
def announced():
    """The payout writes the engine announces (payments.signals) for whoever shows payouts."""
    seen = []

    def listen(sender, artist_ids, **kwargs):
        seen.append(set(artist_ids))

    payouts_updated.connect(listen, weak=False, dispatch_uid="test-payout-runs")
    yield seen
    payouts_updated.disconnect(dispatch_uid="test-payout-runs")


def onboard_over_api(server, client, person):
    response = api_as(person).post("/api/v1/payout-account/")
    assert response.status_code == 201, response.content
    back = server.onboard(response.json()["onboarding_url"])
    assert "/payouts/connect/return/" in back
    events = server.events(types=("account.updated",))
    assert deliver_all(client, events) == [200] * len(events)
    state = api_as(person).get("/api/v1/payout-account/").json()
    assert state["payouts_enabled"] is True and state["missing"] == []
    return state["stripe_account_id"]


def test_two_artists_onboard_are_paid_exactly_once_and_their_payouts_arrive(
    stripe_server, client, program, card, artist, other_artist, moderator, finance_user, admin_user, announced
):
    accounts = {person.pk: onboard_over_api(stripe_server, client, person) for person in (artist, other_artist)}
    accept_labour(artist, program, moderator, severity="high")
    accept_labour(artist, program, moderator, severity="medium")
    accept_labour(other_artist, program, moderator, severity="high")
    assert (ledger_unpaid(artist), ledger_unpaid(other_artist)) == (3500, 2500)

    response = api_as(finance_user).post(
        "/api/v1/payout-runs/", {"program": program.pk, "period_end": timezone.localdate().isoformat()}, format="json"
    )
    assert response.status_code == 201, response.content
    preview = response.json()
    run_id = preview["id"]
    assert preview["status"] == "prepared" and preview["payout_count"] == 2 and preview["total"] == {"EUR": 6000}
    assert announced == [{artist.pk, other_artist.pk}]  # bulk_create of the planned payouts
    assert stripe_server.transfers() == []  # a preview sends nothing
    approved = api_as(admin_user).post(
        f"/api/v1/payout-runs/{run_id}/approve/", {"digest": preview["preview_digest"]}, format="json"
    )
    assert approved.status_code == 200 and approved.json()["approved_by"] == admin_user.pk
    assert payout_run_execute_task(run_id) == PayoutRun.Status.DONE  # the Celery task's body

    transfers = stripe_server.transfers()
    assert sorted((t["destination"], t["amount"], t["currency"]) for t in transfers) == sorted(
        [(accounts[artist.pk], 3500, "eur"), (accounts[other_artist.pk], 2500, "eur")]
    )
    assert stripe_server.balance() == 10_000_000 - 6000
    assert (ledger_unpaid(artist), ledger_unpaid(other_artist)) == (0, 0)

    # Running it again makes no transfer; a new run for the same period has nothing to pay.
    payout_run_execute_task(run_id)
    again = api_as(finance_user).post(
        "/api/v1/payout-runs/", {"program": program.pk, "period_end": timezone.localdate().isoformat()}, format="json"
    )
    assert again.status_code == 400 and again.json()["code"] == "nothing_to_pay"
    assert len(stripe_server.transfers()) == 2 and PayoutRun.objects.count() == 1

    # Webhooks: the transfers landed in the artists' Stripe balances (sent), then each
    # account's own payout takes the money to the bank: in transit, arrived.
    assert deliver_all(client, stripe_server.events(types=("transfer.created",))) == [200, 200]
    assert set(Payout.objects.values_list("status", flat=True)) == {"sent"}
    for account_id in accounts.values():
        stripe_server.payout_now(account_id)
    events = stripe_server.events(types=("payout.created", "payout.updated", "payout.paid"))
    assert len(events) == 6 and {e["endpoint"] for e in events} == {"connect"}
    assert deliver_all(client, events) == [200] * 6
    assert set(Payout.objects.values_list("status", flat=True)) == {"arrived"}
    assert announced[1:] == []  # row saves from here on: post_save, not the bulk signal
    assert (ledger_unpaid(artist), ledger_unpaid(other_artist)) == (0, 0)
    earnings = api_as(artist).get("/api/v1/earnings/").json()
    assert earnings["balance"]["unpaid"] == 0 and earnings["balance"]["paid"] == 3500
    mine = api_as(artist).get("/api/v1/payouts/").json()
    assert [(p["amount"], p["status"]) for p in mine["results"]] == [(3500, "arrived")]
    detail = api_as(finance_user).get(f"/api/v1/payout-runs/{run_id}/").json()
    assert detail["status"] == "done" and {p["status"] for p in detail["payouts"]} == {"arrived"}
    assert [(a["trigger"], a["outcome"]) for a in detail["attempts"]] == [("approval", "finished")]


def _planned_run(program, artist, other_artist, moderator, server, client):
    for person in (artist, other_artist):
        onboard_over_api(server, client, person)
    accept_labour(artist, program, moderator, severity="high")
    accept_labour(other_artist, program, moderator, severity="medium")
    return prepare_and_approve(program=program)


def test_a_crash_after_stripe_accepted_the_transfer_is_resumed_without_a_second_transfer(
    stripe_server, client, program, card, artist, other_artist, moderator, monkeypatch
):
    run = _planned_run(program, artist, other_artist, moderator, stripe_server, client)
    real_record = payouts_module.record_transfer

    def crash(**kwargs):
        raise RuntimeError("the worker died between Stripe's answer and the database write")

    monkeypatch.setattr(payouts_module, "record_transfer", crash)
    with pytest.raises(RuntimeError):
        payout_run_execute(run_id=run.pk)
    assert len(stripe_server.transfers()) == 1
    first = Payout.objects.get(run=run, attempts=1)
    assert first.status == "pending" and first.stripe_transfer_id is None
    assert not LedgerEntry.objects.filter(kind="payout").exists()

    monkeypatch.setattr(payouts_module, "record_transfer", real_record)
    sent = []
    real_create = gateway.transfer_create
    monkeypatch.setattr(gateway, "transfer_create", lambda **kw: sent.append(kw["transfer_group"]) or real_create(**kw))
    run = payout_run_resume(run_id=run.pk)

    assert run.status == "done"
    assert first.transfer_group not in sent  # found at Stripe, not sent again
    transfers = stripe_server.transfers()
    assert len(transfers) == 2
    first.refresh_from_db()
    assert first.status == "sent" and first.stripe_transfer_id == next(
        t["id"] for t in transfers if t["transfer_group"] == first.transfer_group
    )
    assert LedgerEntry.objects.filter(kind="payout").count() == 2
    assert ledger_unpaid(artist) == 0 and ledger_unpaid(other_artist) == 0


def test_a_webhook_that_arrives_before_the_resume_records_the_transfer(
    stripe_server, client, program, card, artist, other_artist, moderator, monkeypatch
):
    run = _planned_run(program, artist, other_artist, moderator, stripe_server, client)
    monkeypatch.setattr(payouts_module, "record_transfer", lambda **kw: (_ for _ in ()).throw(RuntimeError("crash")))
    with pytest.raises(RuntimeError):
        payout_run_execute(run_id=run.pk)
    monkeypatch.undo()
    deliver_all(client, stripe_server.events(types=("transfer.created",)))
    assert Payout.objects.get(run=run, attempts=1).status == "sent"
    payout_run_resume(run_id=run.pk)
    assert len(stripe_server.transfers()) == 2
    assert LedgerEntry.objects.filter(kind="payout").count() == 2


def test_stripe_unreachable_interrupts_the_run_and_resume_finishes_it(
    stripe_server, client, program, card, artist, other_artist, moderator, settings
):
    run = _planned_run(program, artist, other_artist, moderator, stripe_server, client)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(GatewayError):
        payout_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "interrupted" and "reached" in run.last_error
    assert set(run.payouts.values_list("status", flat=True)) == {"pending"}
    settings.STRIPE_API_BASE = stripe_server.url
    assert payout_run_resume(run_id=run.pk).status == "done"
    assert len(stripe_server.transfers()) == 2


def test_platform_balance_too_low_fails_the_payout_with_the_reason_and_the_money_is_owed_again(
    stripe_server, client, program, card, artist, other_artist, moderator, finance_user
):
    run = _planned_run(program, artist, other_artist, moderator, stripe_server, client)
    stripe_server.set_balance(1000)  # enough for Bob's €10.00, not for Alice's €25.00
    run = payout_run_execute(run_id=run.pk)
    assert run.status == "done_with_failures"
    failed = Payout.objects.get(artist=artist)
    assert failed.status == "failed" and failed.failure_code == "balance_insufficient"
    assert "insufficient available funds" in failed.failure_reason
    assert ledger_unpaid(artist) == 2500 and ledger_unpaid(other_artist) == 0

    client.force_login(finance_user)
    page = client.get(f"/finance/runs/{run.pk}/").content.decode()
    assert "insufficient available funds" in page
    client.force_login(artist)
    page = client.get("/payouts/").content.decode()
    assert "insufficient available funds" in page and "back in your unpaid balance" in page
    assert api_as(artist).get("/api/v1/payouts/").json()["results"][0]["failure_code"] == "balance_insufficient"

    # Topped up, the next run pays what is owed.
    stripe_server.set_balance(100_000)
    retry = prepare_and_approve(program=program)
    payout_run_execute(run_id=retry.pk)
    assert retry.payouts.get().status == "sent" and ledger_unpaid(artist) == 0


def test_an_account_stripe_no_longer_enables_fails_the_transfer_then_is_skipped_with_the_reason(
    stripe_server, client, program, card, artist, other_artist, moderator
):
    run = _planned_run(program, artist, other_artist, moderator, stripe_server, client)
    account = artist.connected_account
    stripe_server.set_account(account.stripe_account_id, payouts_enabled="false", requirements_due="external_account")
    payout_run_execute(run_id=run.pk)
    failed = Payout.objects.get(artist=artist)
    assert failed.status == "failed" and failed.failure_code == "account_invalid"
    assert ledger_unpaid(artist) == 2500

    deliver_all(client, stripe_server.events(types=("account.updated",)))
    account.refresh_from_db()
    assert account.payouts_enabled is False and account.missing == ["A bank account for payouts"]
    with pytest.raises(NothingToPay) as nothing:
        payout_run_create(period_end=timezone.localdate(), program_id=program.pk)
    assert [(s["artist_id"], s["code"]) for s in nothing.value.skipped] == [(artist.pk, "payouts_not_enabled")]
    assert "A bank account for payouts" in nothing.value.skipped[0]["reason"]
    assert "payouts not enabled at Stripe" in nothing.value.message
    assert PayoutRun.objects.count() == 1  # the refused one was not created


def test_artists_who_cannot_be_paid_are_listed_with_the_reason(
    stripe_server, client, program, card, artist, other_artist, outsider, moderator
):
    from tests.factories import enroll, sign
    from tests.finance.helpers import enabled_account

    enroll(outsider, program)
    sign(outsider, program)
    accept_labour(artist, program, moderator, severity="high")  # no account
    accept_labour(other_artist, program, moderator, severity="high")  # account, not enabled
    accept_labour(outsider, program, moderator, severity="low")  # €3.00 < €5.00 minimum
    enabled_account(other_artist, enabled=False)
    enabled_account(outsider)
    with pytest.raises(NothingToPay) as nothing:
        payout_run_create(period_end=timezone.localdate(), program_id=program.pk)
    reasons = {s["artist_id"]: s["code"] for s in nothing.value.skipped}
    assert reasons == {artist.pk: "no_account", other_artist.pk: "payouts_not_enabled", outsider.pk: "below_minimum"}
    assert not PayoutRun.objects.exists()


def test_a_second_run_never_computes_money_that_is_still_in_flight(
    stripe_server, client, program, card, artist, other_artist, moderator
):
    first = _planned_run(program, artist, other_artist, moderator, stripe_server, client)
    with pytest.raises(NothingToPay) as nothing:
        payout_run_create(period_end=timezone.localdate(), program_id=program.pk)
    assert {s["code"] for s in nothing.value.skipped} == {"in_flight"}
    payout_run_execute(run_id=first.pk)
    assert len(stripe_server.transfers()) == 2


def test_amounts_come_from_one_aggregate_query(
    program, card, artist, other_artist, moderator, django_assert_max_num_queries
):
    from tests.finance.helpers import enabled_account

    for person in (artist, other_artist):
        enabled_account(person)
        for _ in range(3):
            accept_labour(person, program, moderator, severity="medium")
    # A fixed number of queries whatever the number of artists: no per-artist loop.
    with django_assert_max_num_queries(12):
        run = payout_run_create(period_end=timezone.localdate(), program_id=program.pk)
    assert run.total_minor == {"EUR": 6000}


def test_a_future_period_is_refused_and_nothing_is_written(program):
    import datetime as dt

    from payments.errors import PayoutError

    with pytest.raises(PayoutError):
        payout_run_create(period_end=timezone.localdate() + dt.timedelta(days=1))
    assert not PayoutRun.objects.exists()
    assert not WebhookEvent.objects.exists()


def test_signature_of_a_delivered_event_is_checked(stripe_server, client, program, artist):
    stripe_server.onboard(api_as(artist).post("/api/v1/payout-account/").json()["onboarding_url"])
    event = stripe_server.events()[0]
    assert deliver(client, event, signature="t=1,v1=deadbeef").status_code == 400
    # A Connect event is verified with the Connect endpoint's secret, never the platform's.
    platform_signed = gateway.signature_header(payload=event["payload"], secret="whsec_atelier_local")
    assert deliver(client, event, signature=platform_signed).status_code == 400
    assert not WebhookEvent.objects.exists()


def test_a_later_run_for_a_past_period_sees_what_was_paid_after_that_period(
    stripe_server, client, program, card, artist, moderator
):
    """Payout entries are written when the transfer is sent (after the period): a second
    run for the same past period must still see them, or it would pay the money twice."""
    import datetime as dt

    onboard_over_api(stripe_server, client, artist)
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    LedgerEntry(
        artist=artist,
        program=program,
        kind="adjustment",
        amount_minor=4200,
        currency="EUR",
        source_type="tests.backdated",
        source_id="1",
        created_at=two_days_ago,
    ).save()
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    first = prepare_and_approve(program=program, period_end=yesterday)
    payout_run_execute(run_id=first.pk)
    assert first.payouts.get().amount_minor == 4200
    for period_end in (yesterday, yesterday - dt.timedelta(days=1)):
        with pytest.raises(NothingToPay):
            payout_run_create(period_end=period_end, program_id=program.pk)
    assert len(stripe_server.transfers()) == 1
