"""The local Stripe launcher: loopback only, its own state, the Connect routes it adds."""

from __future__ import annotations

import pytest
import stripe

from tests.payments.stripe_server import CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET, local_stripe


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
        link = sdk.v1.account_links.create(
            params={
                "account": account.id,
                "refresh_url": "http://127.0.0.1/r",
                "return_url": "http://127.0.0.1/back",
                "type": "account_onboarding",
            }
        )
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
    # A Connect event: it names the account, and it is signed with the Connect endpoint's own secret.
    event = stripe.Webhook.construct_event(events[0]["payload"], events[0]["signature"], CONNECT_WEBHOOK_SECRET)
    assert event["account"] == account.id and events[0]["endpoint"] == "connect"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(events[0]["payload"], events[0]["signature"], WEBHOOK_SECRET)


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


def test_a_transfer_lands_in_the_accounts_balance_and_its_payout_reaches_the_bank_as_on_connect(server, sdk):
    """No transfer.paid or transfer.failed (Stripe has sent neither since transfers and
    payouts split): the transfer is created, and the connected account's own payout to the
    bank ends payout.paid; both carry what Stripe's objects carry."""
    account = _account(sdk, server)
    one = sdk.v1.transfers.create(params={"amount": 300, "currency": "eur", "destination": account.id})
    two = sdk.v1.transfers.create(params={"amount": 200, "currency": "eur", "destination": account.id})
    assert one.destination_payment.startswith("py_")
    payout = server.payout_now(account.id)
    assert (payout["amount"], payout["status"], payout["automatic"]) == (500, "paid", True)
    kinds = [(e["type"], e["endpoint"]) for e in server.events() if e["type"].split(".")[0] in ("transfer", "payout")]
    assert kinds == [
        ("transfer.created", "platform"),
        ("transfer.created", "platform"),
        ("payout.created", "connect"),
        ("payout.updated", "connect"),
        ("payout.paid", "connect"),
    ]
    # What the payout carried, as Stripe's payout reconciliation lists it for the account.
    txns = sdk.v1.balance_transactions.list(params={"payout": payout["id"]}, options={"stripe_account": account.id})
    assert sorted((t.type, t.source, t.amount) for t in txns.data) == sorted(
        [("payment", one.destination_payment, 300), ("payment", two.destination_payment, 200)]
    )
    listed = sdk.v1.payouts.list(options={"stripe_account": account.id})
    assert [p.id for p in listed.data] == [payout["id"]] and listed.data[0].status == "paid"
    assert server.payout_now(account.id) is None  # nothing left in the balance


def test_a_refused_payout_returns_the_money_to_the_account_and_waits_for_new_bank_details(server, sdk):
    account = _account(sdk, server)
    sdk.v1.transfers.create(params={"amount": 700, "currency": "eur", "destination": account.id})
    server.bank_refuses(account.id, code="account_closed")
    failed = server.payout_now(account.id)
    assert (failed["status"], failed["failure_code"]) == ("failed", "account_closed")
    assert failed["failure_message"] == "The bank account has been closed."
    after = sdk.v1.accounts.retrieve(account.id)
    assert "external_account" in after.requirements.currently_due
    assert server.payout_now(account.id) is None  # errored bank: payouts stop
    # New bank details (onboarding again): the returned money goes out in a new payout.
    link = sdk.v1.account_links.create(
        params={
            "account": account.id,
            "refresh_url": "http://127.0.0.1/r",
            "return_url": "http://127.0.0.1/back",
            "type": "account_onboarding",
        }
    )
    server.onboard(link.url)
    again = server.payout_now(account.id)
    assert (again["amount"], again["status"]) == (700, "paid")
    txns = sdk.v1.balance_transactions.list(params={"payout": again["id"]}, options={"stripe_account": account.id})
    assert [(t.type, t.source) for t in txns.data] == [("payout_failure", failed["id"])]


def test_a_reversal_needs_the_money_in_the_accounts_balance(server, sdk):
    account = _account(sdk, server)
    one = sdk.v1.transfers.create(params={"amount": 300, "currency": "eur", "destination": account.id})
    server.reverse_transfer(one.id)
    assert server.balance() == 10_000_000
    two = sdk.v1.transfers.create(params={"amount": 200, "currency": "eur", "destination": account.id})
    server.payout_now(account.id)  # already paid out to the bank: nothing to take back
    with pytest.raises(stripe.InvalidRequestError) as refused:
        sdk.v1.transfers.reversals.create(two.id)
    assert refused.value.code == "balance_insufficient"
    kinds = [e["type"] for e in server.events() if e["type"].startswith("transfer.")]
    assert kinds == ["transfer.created", "transfer.reversed", "transfer.created"]


def test_another_accounts_data_needs_that_account(server, sdk):
    with pytest.raises(stripe.PermissionError):
        sdk.v1.payouts.list(options={"stripe_account": "acct_nobody"})
