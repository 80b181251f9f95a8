"""POST /webhooks/stripe/ (platform) and /webhooks/stripe/connect/ (Connect): each verified
with its own secret on the raw body, stored once, processed once, in any order."""

from __future__ import annotations

import json
import time

import pytest
from django.utils import timezone

from payments.gateway import signature_header
from payments.models import ConnectedAccount, WebhookEvent
from payments.payouts import payout_run_create
from tests.finance.helpers import accept_labour, enabled_account
from tests.labour.helpers import make_rate_card
from tests.payments.stripe_server import CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


def post_event(client, event: dict, *, secret: str | None = None, signature: str | None = None):
    """To the endpoint Stripe would use: Connect for events that name an `account`."""
    connect = "account" in event
    payload = json.dumps(event)
    secret = secret or (CONNECT_WEBHOOK_SECRET if connect else WEBHOOK_SECRET)
    header = signature or signature_header(payload=payload, secret=secret)
    path = "/webhooks/stripe/connect/" if connect else "/webhooks/stripe/"
    return client.generic("POST", path, payload.encode(), content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def account_event(account_id: str, *, event_id="evt_acct_1", enabled=True) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": "account.updated",
        "created": int(time.time()),
        "account": account_id,
        "data": {
            "object": {
                "id": account_id,
                "object": "account",
                "details_submitted": enabled,
                "payouts_enabled": enabled,
                "requirements": {
                    "currently_due": [] if enabled else ["external_account"],
                    "past_due": [],
                    "disabled_reason": None,
                },
            }
        },
    }


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_WEBHOOK_SECRET


def test_a_bad_signature_is_a_400_and_nothing_is_stored(client, artist):
    account = enabled_account(artist, enabled=False)
    event = account_event(account.stripe_account_id)
    assert post_event(client, event, secret="whsec_somebody_else").status_code == 400
    assert post_event(client, event, secret=WEBHOOK_SECRET).status_code == 400  # the other endpoint's secret
    assert post_event(client, event, signature="garbage").status_code == 400
    response = client.generic(
        "POST", "/webhooks/stripe/connect/", json.dumps(event).encode(), content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "bad_signature"
    # A signed body changed after signing.
    payload = json.dumps(event)
    header = signature_header(payload=payload, secret=CONNECT_WEBHOOK_SECRET)
    tampered = payload.replace("evt_acct_1", "evt_acct_2")
    assert (
        client.generic(
            "POST",
            "/webhooks/stripe/connect/",
            tampered.encode(),
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        ).status_code
        == 400
    )
    # A Connect event must name its account.
    anonymous = {k: v for k, v in event.items() if k != "account"}
    payload = json.dumps(anonymous)
    assert (
        client.generic(
            "POST",
            "/webhooks/stripe/connect/",
            payload.encode(),
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature_header(payload=payload, secret=CONNECT_WEBHOOK_SECRET),
        ).status_code
        == 400
    )
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


def test_unknown_types_are_stored_and_ignored(client, artist):
    response = post_event(
        client, {"id": "evt_x", "object": "event", "type": "charge.dispute.created", "data": {"object": {"id": "dp_1"}}}
    )
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == "ignored"
    # An account.updated that reaches the platform endpoint is not a platform event: ignored.
    account = enabled_account(artist, enabled=False)
    event = {k: v for k, v in account_event(account.stripe_account_id, event_id="evt_y").items() if k != "account"}
    assert post_event(client, event).status_code == 200
    assert WebhookEvent.objects.get(stripe_event_id="evt_y").status == "ignored"
    account.refresh_from_db()
    assert account.payouts_enabled is False


def test_an_account_event_about_another_account_changes_nothing(client, artist, other_artist):
    mine, theirs = enabled_account(artist, enabled=False), enabled_account(other_artist, enabled=False)
    event = account_event(theirs.stripe_account_id)
    event["account"] = mine.stripe_account_id  # signed, but the object is not the account it names
    assert post_event(client, event).status_code == 200
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.payouts_enabled, theirs.payouts_enabled) == (False, False)


def test_an_event_that_fails_to_process_is_recorded_and_answered_500_for_redelivery(client, program, artist, moderator):
    make_rate_card(program)
    account = enabled_account(artist)
    accept_labour(artist, program, moderator)
    run = payout_run_create(period_end=timezone.localdate(), program_id=program.pk)
    payout = run.payouts.get()
    wrong = {
        "id": "tr_wrong",
        "object": "transfer",
        "amount": payout.amount_minor + 1,
        "currency": "eur",
        "destination": account.stripe_account_id,
        "transfer_group": payout.transfer_group,
        "metadata": {},
    }
    response = post_event(
        client, {"id": "evt_bad", "object": "event", "type": "transfer.created", "data": {"object": wrong}}
    )
    assert response.status_code == 500
    event = WebhookEvent.objects.get()
    assert event.status == "failed" and "does not match" in event.error
    payout.refresh_from_db()
    assert payout.status == "pending"
