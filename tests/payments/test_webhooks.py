"""POST /webhooks/stripe/: verified on the raw body, stored once, processed once, in any order."""
from __future__ import annotations

import json
import time

import pytest
from django.utils import timezone

from payments.gateway import signature_header
from payments.models import ConnectedAccount, Payout, WebhookEvent
from payments.payouts import payout_run_create, payout_run_execute
from tests.finance.helpers import accept_labour, enabled_account, ledger_unpaid
from tests.labour.helpers import make_rate_card
from tests.payments.stripe_server import WEBHOOK_SECRET, deliver

pytestmark = pytest.mark.django_db


def post_event(client, event: dict, *, secret: str = WEBHOOK_SECRET, signature: str | None = None):
    payload = json.dumps(event)
    header = signature or signature_header(payload=payload, secret=secret)
    return client.generic("POST", "/webhooks/stripe/", payload.encode(), content_type="application/json",
                          HTTP_STRIPE_SIGNATURE=header)


def account_event(account_id: str, *, event_id="evt_acct_1", enabled=True) -> dict:
    return {"id": event_id, "object": "event", "type": "account.updated", "created": int(time.time()),
            "data": {"object": {"id": account_id, "object": "account", "details_submitted": enabled,
                                "payouts_enabled": enabled,
                                "requirements": {"currently_due": [] if enabled else ["external_account"],
                                                 "past_due": [], "disabled_reason": None}}}}


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


def test_a_bad_signature_is_a_400_and_nothing_is_stored(client, artist):
    account = enabled_account(artist, enabled=False)
    event = account_event(account.stripe_account_id)
    assert post_event(client, event, secret="whsec_somebody_else").status_code == 400
    assert post_event(client, event, signature="garbage").status_code == 400
    response = client.generic("POST", "/webhooks/stripe/", json.dumps(event).encode(), content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "bad_signature"
    # A signed body changed after signing.
    payload = json.dumps(event)
    header = signature_header(payload=payload, secret=WEBHOOK_SECRET)
    tampered = payload.replace('evt_acct_1', 'evt_acct_2')
    assert client.generic("POST", "/webhooks/stripe/", tampered.encode(), content_type="application/json",
                          HTTP_STRIPE_SIGNATURE=header).status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert ConnectedAccount.objects.get().payouts_enabled is False


def test_the_same_event_twice_is_processed_once(client, artist, django_assert_max_num_queries):
    account = enabled_account(artist, enabled=False)
    event = account_event(account.stripe_account_id)
    first = post_event(client, event)
    assert first.status_code == 200 and first.json() == {"id": "evt_acct_1", "status": "processed", "duplicate": False}
    second = post_event(client, event)
    assert second.status_code == 200 and second.json()["duplicate"] is True
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts) == ("processed", 1)
    account.refresh_from_db()
    assert account.payouts_enabled is True


def test_unknown_types_are_stored_and_ignored(client):
    response = post_event(client, {"id": "evt_x", "object": "event", "type": "charge.dispute.created",
                                   "data": {"object": {"id": "dp_1"}}})
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == "ignored"


def test_transfer_paid_before_created_ends_in_the_right_state(stripe_server, client, program, artist, moderator):
    make_rate_card(program)
    enabled_account(artist)  # not at Stripe: enable the fake's account the same way
    account = artist.connected_account
    ConnectedAccount.objects.filter(pk=account.pk).delete()
    from tests.conftest import api_as

    stripe_server.onboard(api_as(artist).post("/api/v1/payout-account/").json()["onboarding_url"])
    deliver(client, stripe_server.events(types=("account.updated",))[0])
    accept_labour(artist, program, moderator)
    run = payout_run_create(period_end=timezone.localdate(), program_id=program.pk)
    payout_run_execute(run_id=run.pk)
    created, paid = (stripe_server.events(types=("transfer.created",))[0],
                     stripe_server.events(types=("transfer.paid",))[0])
    assert deliver(client, paid).status_code == 200
    assert deliver(client, created).status_code == 200
    payout = Payout.objects.get()
    assert payout.status == "paid" and payout.paid_at is not None
    assert ledger_unpaid(artist) == 0


def test_paid_before_created_before_our_own_write_records_the_transfer_once(client, program, artist, moderator):
    """The events reach us while the run's own write never happened (it crashed)."""
    make_rate_card(program)
    account = enabled_account(artist)
    accept_labour(artist, program, moderator)
    run = payout_run_create(period_end=timezone.localdate(), program_id=program.pk)
    payout = run.payouts.get()
    transfer = {"id": "tr_out_of_order", "object": "transfer", "amount": payout.amount_minor, "currency": "eur",
                "destination": account.stripe_account_id, "transfer_group": payout.transfer_group,
                "metadata": {"atelier_payout": str(payout.pk)}, "amount_reversed": 0}
    for event_id, kind in (("evt_paid", "transfer.paid"), ("evt_created", "transfer.created"),
                           ("evt_paid", "transfer.paid")):
        assert post_event(client, {"id": event_id, "object": "event", "type": kind,
                                   "data": {"object": transfer}}).status_code == 200
    payout.refresh_from_db()
    assert (payout.status, payout.stripe_transfer_id) == ("paid", "tr_out_of_order")
    assert ledger_unpaid(artist) == 0
    assert WebhookEvent.objects.filter(status="processed").count() == 2


def test_an_event_that_fails_to_process_is_recorded_and_answered_500_for_redelivery(client, program, artist,
                                                                                   moderator):
    make_rate_card(program)
    account = enabled_account(artist)
    accept_labour(artist, program, moderator)
    run = payout_run_create(period_end=timezone.localdate(), program_id=program.pk)
    payout = run.payouts.get()
    wrong = {"id": "tr_wrong", "object": "transfer", "amount": payout.amount_minor + 1, "currency": "eur",
             "destination": account.stripe_account_id, "transfer_group": payout.transfer_group, "metadata": {}}
    response = post_event(client, {"id": "evt_bad", "object": "event", "type": "transfer.created",
                                   "data": {"object": wrong}})
    assert response.status_code == 500
    event = WebhookEvent.objects.get()
    assert event.status == "failed" and "does not match" in event.error
    payout.refresh_from_db()
    assert payout.status == "pending"
