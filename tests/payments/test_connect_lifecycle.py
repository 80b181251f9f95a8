"""The Connect lifecycle as Stripe runs it today, over HTTP to the local Stripe through the
real SDK: a transfer lands in the artist's Stripe balance (sent), the connected account's own
payout takes it to the bank (in transit) and ends `payout.paid` (arrived) or `payout.failed`
(bank failed, Stripe's message shown); a reversed transfer is owed again. Every event is
delivered replayed and out of order; each outcome has exactly one ledger effect."""

from __future__ import annotations

import json

import pytest

from payments import payouts as payouts_module
from payments.models import LedgerEntry, Payout, WebhookEvent
from payments.payouts import payout_run_create, payout_run_execute
from tests.conftest import api_as
from tests.finance.helpers import accept_labour, ledger_unpaid, prepare_and_approve
from tests.labour.helpers import make_rate_card
from tests.payments.stripe_server import deliver, deliver_all
from tests.payments.test_payout_runs import onboard_over_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_out(stripe_server, client, program, artist, moderator):
    """Alice, onboarded, owed €25.00 and sent it: the transfer is in her Stripe balance."""
    make_rate_card(program, bounty_high_minor=2500)
    account_id = onboard_over_api(stripe_server, client, artist)
    accept_labour(artist, program, moderator, severity="high")
    run = prepare_and_approve(program=program)
    payout_run_execute(run_id=run.pk)
    payout = Payout.objects.get(run=run)
    assert payout.status == "sent" and payout.stripe_destination_payment.startswith("py_")
    return payout, account_id


def ledger_effects(artist) -> list[tuple[str, int]]:
    return sorted(
        LedgerEntry.objects.filter(artist=artist, kind__in=["payout", "reversal"]).values_list("kind", "amount_minor")
    )


def lifecycle_events(server, after: int = 0) -> list[dict]:
    return [
        e
        for e in server.events(after=after)
        if e["type"].startswith(("transfer.", "payout.")) or e["type"] == "account.updated"
    ]


def test_a_payout_arrives_through_the_accounts_payout_paid_whatever_the_order(paid_out, stripe_server, client, artist):
    payout, account_id = paid_out
    mark = len(stripe_server.events())
    stripe_server.payout_now(account_id)
    events = lifecycle_events(stripe_server, after=mark)
    assert [e["type"] for e in events] == ["payout.created", "payout.updated", "payout.paid"]
    assert all(json.loads(e["payload"])["account"] == account_id for e in events)
    # Newest first, then everything again: the state only moves forward.
    assert deliver_all(client, events[::-1] + events) == [200] * 6
    payout.refresh_from_db()
    assert payout.status == "arrived" and payout.paid_at and payout.stripe_payout_id.startswith("po_")
    assert payout.arrival_date is not None
    assert ledger_effects(artist) == [("payout", -2500)] and ledger_unpaid(artist) == 0
    assert (
        WebhookEvent.objects.filter(
            endpoint="connect", account=account_id, type__startswith="payout.", status="processed"
        ).count()
        == 3
    )
    assert api_as(artist).get("/api/v1/payouts/").json()["results"][0]["status"] == "arrived"


def test_a_bank_failure_shows_stripes_message_and_has_one_ledger_effect_replayed_and_out_of_order(
    paid_out, stripe_server, client, artist, program, moderator
):
    payout, account_id = paid_out
    stripe_server.bank_refuses(account_id, code="account_closed")
    mark = len(stripe_server.events())
    failed = stripe_server.payout_now(account_id)
    events = lifecycle_events(stripe_server, after=mark)
    assert [e["type"] for e in events] == ["payout.created", "payout.updated", "payout.failed", "account.updated"]
    # The failure first, the creation last, then all of it again.
    order = [events[2], events[3], events[1], events[0]]
    assert deliver_all(client, order + order) == [200] * 8
    payout.refresh_from_db()
    assert (payout.status, payout.failure_code) == ("bank_failed", "account_closed")
    assert payout.failure_reason == failed["failure_message"] == "The bank account has been closed."
    # The money is back in her STRIPE balance, not ours: nothing is owed again, no reversal.
    assert ledger_effects(artist) == [("payout", -2500)] and ledger_unpaid(artist) == 0
    account = artist.connected_account
    account.refresh_from_db()
    assert account.missing == ["A bank account for payouts"]

    client.force_login(artist)
    page = client.get("/payouts/").content.decode()
    assert "The bank account has been closed." in page and "Bank failed" in page
    assert "A bank account for payouts" in page and 'id="connect-payout-account"' in page  # the link to fix it
    # A new run does not pay her again.
    accept_labour(artist, program, moderator, severity="high")
    second = payout_run_create(period_end=payout.run.period_end, program_id=program.pk)
    assert second.payouts.get().amount_minor == 2500  # only the new work

    # She gives Stripe new bank details: Stripe pays the returned money out again.
    link = client.post("/payouts/connect/")["Location"]
    stripe_server.onboard(link)
    mark = len(stripe_server.events())
    again = stripe_server.payout_now(account_id)
    assert again["amount"] == 2500 and again["status"] == "paid"
    assert deliver_all(client, lifecycle_events(stripe_server, after=mark)) == [200] * 3
    payout.refresh_from_db()
    assert (payout.status, payout.stripe_payout_id, payout.failure_reason) == ("arrived", again["id"], "")
    # A late replay of the failed payout's events changes nothing now.
    assert deliver_all(client, order) == [200] * 4
    payout.refresh_from_db()
    assert payout.status == "arrived"
    assert ledger_effects(artist) == [("payout", -2500)]


def test_a_payout_stripe_saw_paid_can_still_fail(paid_out, stripe_server, client, artist):
    payout, account_id = paid_out
    stripe_server.bank_refuses(account_id, code="no_account", after_paid=True)
    mark = len(stripe_server.events())
    stripe_server.payout_now(account_id)
    events = lifecycle_events(stripe_server, after=mark)
    assert [e["type"] for e in events] == [
        "payout.created",
        "payout.updated",
        "payout.paid",
        "payout.failed",
        "account.updated",
    ]
    paid, failed = events[2], events[3]
    assert deliver_all(client, [failed, paid, paid]) == [200] * 3
    payout.refresh_from_db()
    assert payout.status == "bank_failed" and "No bank account could be located" in payout.failure_reason
    assert ledger_effects(artist) == [("payout", -2500)]


def test_a_reversed_transfer_is_owed_again_once_replayed_and_out_of_order(
    paid_out, stripe_server, client, artist, program
):
    payout, account_id = paid_out
    stripe_server.reverse_transfer(payout.stripe_transfer_id)
    created, reversed_ = (
        stripe_server.events(types=("transfer.created",))[0],
        stripe_server.events(types=("transfer.reversed",))[0],
    )
    assert deliver_all(client, [reversed_, created, reversed_, created]) == [200] * 4
    payout.refresh_from_db()
    assert payout.status == "reversed" and "reversed" in payout.failure_reason
    assert ledger_effects(artist) == [("payout", -2500), ("reversal", 2500)]
    assert ledger_unpaid(artist) == 2500
    # The money is with the platform again: nothing left for the account to pay out.
    assert stripe_server.payout_now(account_id) is None
    # The next run pays it.
    again = prepare_and_approve(program=program)
    assert again.payouts.get().amount_minor == 2500


def test_a_payout_event_before_our_own_write_records_the_transfer_first(
    stripe_server, client, program, artist, moderator, monkeypatch
):
    """The run died between Stripe's answer and its write; the account's payout.paid comes
    before transfer.created and before any resume: the transfer is found, recorded once."""
    make_rate_card(program, bounty_high_minor=2500)
    account_id = onboard_over_api(stripe_server, client, artist)
    accept_labour(artist, program, moderator, severity="high")
    run = prepare_and_approve(program=program)
    monkeypatch.setattr(
        payouts_module, "record_transfer", lambda **kw: (_ for _ in ()).throw(RuntimeError("worker died"))
    )
    with pytest.raises(RuntimeError):
        payout_run_execute(run_id=run.pk)
    monkeypatch.undo()
    run.refresh_from_db()
    assert run.status == "interrupted" and "worker died" in run.last_error
    stripe_server.payout_now(account_id)
    paid = stripe_server.events(types=("payout.paid",))[0]
    assert deliver(client, paid).status_code == 200
    payout = Payout.objects.get(run=run)
    assert payout.status == "arrived" and payout.stripe_transfer_id
    assert deliver_all(client, stripe_server.events(types=("transfer.created",))) == [200]
    assert payout_run_execute(run_id=run.pk).status == "done"
    assert len(stripe_server.transfers()) == 1
    assert ledger_effects(artist) == [("payout", -2500)]


def test_connect_events_are_matched_within_their_account(paid_out, stripe_server, client, other_artist):
    """A payout event signed for Bob's account cannot move Alice's payout, even naming it."""
    payout, account_id = paid_out
    bob_account = onboard_over_api(stripe_server, client, other_artist)
    stripe_server.payout_now(account_id, finish=False)
    created = stripe_server.events(types=("payout.created",))[-1]
    body = json.loads(created["payload"])
    body.update(id="evt_forged", account=bob_account)
    body["data"]["object"]["status"] = "paid"
    from payments.gateway import signature_header

    payload = json.dumps(body)
    response = client.generic(
        "POST",
        "/webhooks/stripe/connect/",
        payload.encode(),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature_header(payload=payload, endpoint="connect"),
    )
    assert response.status_code == 200
    payout.refresh_from_db()
    assert payout.status == "sent"
