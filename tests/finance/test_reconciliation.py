"""Reconciliation: the ledger, our payouts and what Stripe lists for each account, compared;
every difference flagged for finance (on a page, daily and on demand, audited)."""

from __future__ import annotations

import pytest
import stripe

from payments.models import Reconciliation
from tester_platform.audit.models import AuditEvent
from tester_platform.finance.services import reconciliation_run
from tester_platform.finance.tasks import reconcile_task
from tests.payments.stripe_server import deliver_all
from tests.payments.test_connect_lifecycle import paid_out  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def codes(report) -> list[str]:
    return sorted(d["code"] for d in report.differences)


def test_it_flags_a_transfer_the_ledger_does_not_know(paid_out, stripe_server, client, finance_user):  # noqa: F811
    payout, account_id = paid_out
    clean = reconciliation_run(actor=finance_user)
    assert (clean.error, clean.differences, clean.accounts_checked, clean.transfers_checked) == ("", [], 1, 1)

    # Someone sends money from the Stripe Dashboard: the ledger does not know it.
    sdk = stripe.StripeClient("sk_test_atelier_local", base_addresses={"api": stripe_server.url})
    stray = sdk.v1.transfers.create(params={"amount": 1234, "currency": "eur", "destination": account_id})
    reconcile_task()  # the daily beat task
    report = Reconciliation.objects.first()
    assert report.requested_by is None
    assert codes(report) == ["account_total_mismatch", "unknown_transfer"]
    unknown = next(d for d in report.differences if d["code"] == "unknown_transfer")
    assert (unknown["stripe_id"], unknown["account"], unknown["actual_minor"]) == (stray.id, account_id, 1234)
    assert "€12.34" in unknown["message"] and "no payout in the ledger knows" in unknown["message"]
    total = next(d for d in report.differences if d["code"] == "account_total_mismatch")
    assert (total["expected_minor"], total["actual_minor"]) == (2500, 3734)

    client.force_login(finance_user)
    page = client.get("/finance/reconciliation/").content.decode()
    assert stray.id in page and 'data-differences="2"' in page
    assert "2 differences between the ledger and Stripe" in client.get("/finance/").content.decode()
    assert AuditEvent.objects.filter(action="reconciliation.run").count() == 2


def test_it_flags_a_reversal_the_webhooks_never_told_us(paid_out, stripe_server, client, finance_user):  # noqa: F811
    payout, account_id = paid_out
    stripe_server.reverse_transfer(payout.stripe_transfer_id)  # transfer.reversed is never delivered
    report = reconciliation_run(actor=finance_user)
    assert codes(report) == ["account_total_mismatch", "reversal_not_recorded"]
    deliver_all(client, stripe_server.events(types=("transfer.reversed",)))
    assert codes(reconciliation_run(actor=finance_user)) == []


def test_it_flags_a_bank_payout_state_that_is_not_stripes(paid_out, stripe_server, client, finance_user):  # noqa: F811
    payout, account_id = paid_out
    stripe_server.payout_now(account_id, finish=False)
    deliver_all(client, stripe_server.events(types=("payout.created", "payout.updated")))
    payout.refresh_from_db()
    assert payout.status == "in_transit"
    assert codes(reconciliation_run(actor=finance_user)) == []
    stripe_server.payout_now(account_id)  # the bank pays it; payout.paid is never delivered
    report = reconciliation_run(actor=finance_user)
    assert codes(report) == ["status_mismatch"]
    assert "on its way to your bank here" in report.differences[0]["message"]
    assert report.differences[0]["message"].endswith("is paid.")


def test_it_flags_a_sent_payout_stripe_does_not_list_and_a_ledger_without_its_entry(
    finance_user, program, artist, stripe_server
):
    from tests.finance.helpers import matrix_payout

    class World:
        def __init__(self):
            self.program = program

        def user(self, role):
            return artist

    payout = matrix_payout(World())  # sent here, with no ledger entry and no transfer at Stripe
    report = reconciliation_run(actor=finance_user)
    assert codes(report) == ["ledger_mismatch", "transfer_missing_at_stripe"]
    missing = next(d for d in report.differences if d["code"] == "transfer_missing_at_stripe")
    assert missing["payout_id"] == payout.pk and missing["stripe_id"] == payout.stripe_transfer_id


def test_stripe_unreachable_is_said_not_hidden(finance_user, settings, client):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    report = reconciliation_run(actor=finance_user)
    assert report.error and report.difference_count == 0
    client.force_login(finance_user)
    assert "could not finish" in client.get("/finance/reconciliation/").content.decode()


def test_the_daily_check_is_scheduled(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["finance-reconcile-daily"]
    assert entry["task"] == "finance.reconcile"
