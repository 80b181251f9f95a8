"""The local Stripe launcher: loopback only, its own state, the Connect routes it adds."""
from __future__ import annotations

import pytest
import stripe

from tests.payments.stripe_server import local_stripe


@pytest.fixture
def server():
    s = local_stripe()
    s.reset()
    return s


@pytest.fixture
def sdk(server):
    return stripe.StripeClient("sk_test_local", base_addresses={"api": server.url})


def _account(sdk, server, *, enabled=True):
    account = sdk.v1.accounts.create(params={"type": "express", "country": "DE", "email": "a@example.test"})
    if enabled:
        link = sdk.v1.account_links.create(params={"account": account.id, "refresh_url": "http://127.0.0.1/r",
                                                   "return_url": "http://127.0.0.1/back",
                                                   "type": "account_onboarding"})
        assert server.onboard(link.url) == "http://127.0.0.1/back"
    return sdk.v1.accounts.retrieve(account.id)


def test_it_listens_on_loopback_only_and_never_writes_localstripes_shared_pickle(server, sdk):
    import os
    import socket

    assert server.url.startswith("http://127.0.0.1:")
    before = os.path.getmtime("/tmp/localstripe.pickle") if os.path.exists("/tmp/localstripe.pickle") else None
    _account(sdk, server)
    server.session.post(server.url + "/v1/customers", headers={"Authorization": "Bearer sk_test_x"}, timeout=10)
    after = os.path.getmtime("/tmp/localstripe.pickle") if os.path.exists("/tmp/localstripe.pickle") else None
    assert before == after
    # Not reachable on another interface of this machine.
    port = int(server.url.rsplit(":", 1)[1])
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    for address in addresses - {"127.0.0.1"}:
        with socket.socket() as sock:
            sock.settimeout(1)
            assert sock.connect_ex((address, port)) != 0


def test_an_account_link_completes_onboarding_and_sends_a_signed_account_updated(server, sdk):
    account = _account(sdk, server)
    assert account.payouts_enabled is True and account.details_submitted is True
    events = server.events(types=("account.updated",))
    assert len(events) == 1 and events[0]["signature"].startswith("t=")
    stripe.Webhook.construct_event(events[0]["payload"], events[0]["signature"], "whsec_atelier_local")


def test_the_same_idempotency_key_and_body_give_the_same_transfer_another_body_an_error(server, sdk):
    account = _account(sdk, server)
    params = {"amount": 500, "currency": "eur", "destination": account.id, "transfer_group": "g1"}
    first = sdk.v1.transfers.create(params=params, options={"idempotency_key": "key-1"})
    again = sdk.v1.transfers.create(params=params, options={"idempotency_key": "key-1"})
    assert first.id == again.id and server.balance() == 10_000_000 - 500
    with pytest.raises(stripe.IdempotencyError):
        sdk.v1.transfers.create(params={**params, "amount": 501}, options={"idempotency_key": "key-1"})
    assert [t["id"] for t in server.transfers(transfer_group="g1")] == [first.id]
    assert [t["id"] for t in server.transfers(transfer_group="other")] == []


def test_transfers_check_the_balance_and_the_destination(server, sdk):
    enabled, disabled = _account(sdk, server), _account(sdk, server, enabled=False)
    server.set_balance(100)
    with pytest.raises(stripe.InvalidRequestError) as low:
        sdk.v1.transfers.create(params={"amount": 500, "currency": "eur", "destination": enabled.id})
    assert low.value.code == "balance_insufficient"
    server.set_balance(10_000)
    with pytest.raises(stripe.InvalidRequestError) as not_enabled:
        sdk.v1.transfers.create(params={"amount": 500, "currency": "eur", "destination": disabled.id})
    assert not_enabled.value.code == "account_invalid"
    assert server.balance() == 10_000 and server.transfers() == []


def test_transfer_events_created_paid_reversed_and_failed(server, sdk):
    account = _account(sdk, server)
    one = sdk.v1.transfers.create(params={"amount": 300, "currency": "eur", "destination": account.id})
    two = sdk.v1.transfers.create(params={"amount": 200, "currency": "eur", "destination": account.id})
    server.reverse_transfer(one.id)
    server.fail_transfer(two.id)
    kinds = [e["type"] for e in server.events() if e["type"].startswith("transfer.")]
    assert kinds == ["transfer.created", "transfer.paid", "transfer.created", "transfer.paid", "transfer.reversed",
                     "transfer.failed"]
    assert server.balance() == 10_000_000
