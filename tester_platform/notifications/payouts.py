"""What the artist hears when one of their payouts changes state: called from the one place
payout changes are audited (tester_platform.finance.services._audit_payout_change)."""

from __future__ import annotations

from django.urls import reverse

from payments.models import Payout
from payments.money import format_minor
from tester_platform.notifications.models import Kind
from tester_platform.notifications.services import notify


def payout_status_changed(payout: Payout):
    amount = format_minor(payout.amount_minor, payout.currency)
    status = Payout.Status
    why = payout.failure_reason or payout.failure_code
    if payout.status == status.SENT:
        kind, title = Kind.PAYOUT_SENT, f"Payout of {amount} sent to your Stripe balance"
        body = "Stripe pays it out to your bank on your account's payout schedule; you will hear when it arrives."
    elif payout.status == status.ARRIVED:
        kind, title = Kind.PAYOUT_ARRIVED, f"Payout of {amount} arrived in your bank"
        body = "The money is in your bank account." + (
            f" Stripe's arrival date: {payout.arrival_date.isoformat()}." if payout.arrival_date else ""
        )
    elif payout.status == status.BANK_FAILED:
        kind, title = Kind.PAYOUT_FAILED, f"Your bank refused the payout of {amount}"
        body = (
            f"Stripe says: {why or 'the bank refused it'}.\n"
            "The money is back in your Stripe balance and stays yours; fix your bank details in Stripe and "
            "Stripe pays it out again."
        )
    elif payout.status == status.FAILED:
        kind, title = Kind.PAYOUT_FAILED, f"The payout of {amount} could not be sent"
        body = (
            f"Reason: {why or 'Stripe refused the transfer'}.\n"
            "Nothing left your balance: the amount is still owed to you and goes out in a later run."
        )
    elif payout.status == status.REVERSED:
        kind, title = Kind.PAYOUT_FAILED, f"The transfer of {amount} was reversed"
        body = "The money came back to the platform, so it is owed to you again and goes out in a later run."
    else:  # planned, in transit, discarded: nothing the artist must know or act on
        return None
    return notify(
        user=payout.artist,
        kind=kind,
        title=title,
        body=body,
        link=reverse("finance:payouts"),
        program=payout.run.program if payout.run_id else None,
    )
