"""The gateway with an injected SDK HTTP client (no server): what it sends, how it maps errors."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
import stripe

from payments import gateway
from payments.errors import GatewayError, TransferRefused


class RecordingClient(stripe.HTTPClient):
    name = "recording"

    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)
        self.requests = []

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        self.requests.append(
            {"method": method, "url": url, "headers": dict(headers or {}), "data": parse_qs(post_data or "")}
        )
        status, body = self.answers.pop(0)
        return json.dumps(body), status, {}

    def close(self):
        pass


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_unit"
    settings.STRIPE_API_BASE = "http://127.0.0.1:1"


def test_a_transfer_is_sent_with_the_idempotency_key_to_the_configured_base():
    fake = RecordingClient([(200, {"id": "tr_1", "object": "transfer", "amount": 1234, "currency": "eur"})])
    with gateway.use_http_client(fake):
        transfer = gateway.transfer_create(
            amount_minor=1234,
            currency="EUR",
            destination="acct_1",
            transfer_group="g-1",
            metadata={"atelier_payout": "7"},
            idempotency_key="atelier-payout-x-1-eur",
        )
    assert transfer["id"] == "tr_1"
    sent = fake.requests[0]
    assert sent["url"] == "http://127.0.0.1:1/v1/transfers"
    assert sent["headers"]["Idempotency-Key"] == "atelier-payout-x-1-eur"
    assert sent["data"]["amount"] == ["1234"] and sent["data"]["currency"] == ["eur"]
    assert sent["data"]["metadata[atelier_payout]"] == ["7"]


@pytest.mark.parametrize(
    "status,body,error",
    [
        (
            400,
            {"error": {"type": "invalid_request_error", "code": "balance_insufficient", "message": "no funds"}},
            TransferRefused,
        ),
        (500, {"error": {"type": "api_error", "message": "boom"}}, GatewayError),
        (429, {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "slow down"}}, GatewayError),
        (401, {"error": {"type": "invalid_request_error", "message": "bad key"}}, GatewayError),
    ],
)
def test_stripe_errors_become_engine_errors(status, body, error):
    with gateway.use_http_client(RecordingClient([(status, body)])), pytest.raises(error) as caught:
        gateway.transfer_create(
            amount_minor=1, currency="EUR", destination="acct_1", transfer_group="g", metadata={}, idempotency_key="k"
        )
    if error is TransferRefused:
        assert caught.value.stripe_code == "balance_insufficient"


def test_without_a_secret_key_nothing_is_sent(settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(GatewayError):
        gateway.account_retrieve(account_id="acct_1")


def test_the_account_state_names_what_is_due():
    state = gateway.account_state(
        {
            "details_submitted": False,
            "payouts_enabled": False,
            "requirements": {
                "currently_due": ["external_account"],
                "past_due": ["external_account", "tos_acceptance.date"],
                "disabled_reason": "requirements.past_due",
            },
        }
    )
    assert state == {
        "details_submitted": False,
        "payouts_enabled": False,
        "requirements_due": ["external_account", "tos_acceptance.date"],
        "disabled_reason": "requirements.past_due",
    }
