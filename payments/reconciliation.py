"""Reconciliation: the ledger, our payouts and what Stripe lists, compared; every difference
is kept for finance (a Reconciliation row).

Three records must agree:
- the ledger: each sent payout line wrote one payout entry of exactly its amount (and one
  reversal if its transfer was reversed); a payout never sent wrote nothing;
- our payouts: their status, amount, transfer and the connected account's payout (po_…);
- Stripe: every transfer it lists (to any connected account) and, for the accounts whose
  payouts we follow, the payouts each account lists.

A transfer at Stripe that no payout knows (made by hand in the Dashboard, or by a run whose
records were lost) is flagged, as is a payout whose transfer Stripe does not list, amounts or
reversals that differ, a payout state that is not Stripe's, and, per account, money sent by
Stripe that differs from what the ledger paid out."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from payments import gateway
from payments.errors import PaymentsError
from payments.models import ConnectedAccount, LedgerEntry, Payout, PayoutLine, Reconciliation
from payments.money import format_minor

log = logging.getLogger(__name__)

# A Stripe payout's status, as the state our payout should show.
_EXPECTED_STATE = {
    "pending": Payout.Status.IN_TRANSIT,
    "in_transit": Payout.Status.IN_TRANSIT,
    "paid": Payout.Status.ARRIVED,
    "failed": Payout.Status.BANK_FAILED,
    "canceled": Payout.Status.SENT,
}


def _difference(
    code: str,
    message: str,
    *,
    account: str = "",
    artist_id: int | None = None,
    payout_id: int | None = None,
    stripe_id: str = "",
    expected_minor: int | None = None,
    actual_minor: int | None = None,
) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "account": account,
        "artist_id": artist_id,
        "payout_id": payout_id,
        "stripe_id": stripe_id,
        "expected_minor": expected_minor,
        "actual_minor": actual_minor,
    }


def _money(amount: int, currency: str) -> str:
    return format_minor(int(amount), currency)


def reconcile(*, requested_by: Any = None) -> Reconciliation:
    """Compare everything and store the report. Stripe unreachable: the report says so in
    `error` (and the daily check tries again tomorrow; finance can run it now)."""
    report = Reconciliation.objects.create(requested_by_id=getattr(requested_by, "pk", requested_by))
    try:
        differences, counts = _compare()
    except PaymentsError as exc:
        report.error = exc.message
        report.finished_at = timezone.now()
        report.save(update_fields=["error", "finished_at"])
        return report
    report.differences = differences
    report.difference_count = len(differences)
    report.accounts_checked, report.transfers_checked, report.payouts_checked = counts
    report.finished_at = timezone.now()
    report.save(
        update_fields=[
            "differences",
            "difference_count",
            "accounts_checked",
            "transfers_checked",
            "payouts_checked",
            "finished_at",
        ]
    )
    return report


def _compare() -> tuple[list[dict[str, Any]], tuple[int, int, int]]:
    differences: list[dict[str, Any]] = []
    accounts = {a.stripe_account_id: a for a in ConnectedAccount.objects.all()}
    payouts = list(Payout.objects.exclude(status=Payout.Status.DISCARDED).select_related("connected_account"))
    by_transfer = {p.stripe_transfer_id: p for p in payouts if p.stripe_transfer_id}
    by_group = {p.idempotency_key: p for p in payouts}

    # 1. Stripe's transfers against our payouts.
    transfers = gateway.transfers_all()
    seen: set[int] = set()
    sent_by_account: dict[tuple[str, str], int] = defaultdict(int)
    for transfer in transfers:
        account_id = str(transfer.get("destination") or "")
        currency = str(transfer.get("currency") or "").upper()
        net = int(transfer.get("amount") or 0) - int(transfer.get("amount_reversed") or 0)
        sent_by_account[(account_id, currency)] += net
        payout = by_transfer.get(str(transfer.get("id") or "")) or by_group.get(transfer.get("transfer_group") or "")
        artist = accounts[account_id].artist_id if account_id in accounts else None
        if payout is None:
            differences.append(
                _difference(
                    "unknown_transfer",
                    f"Stripe lists transfer {transfer.get('id')} of "
                    f"{_money(transfer.get('amount') or 0, currency)} to {account_id} "
                    "that no payout in the ledger knows.",
                    account=account_id,
                    artist_id=artist,
                    stripe_id=str(transfer.get("id")),
                    actual_minor=int(transfer.get("amount") or 0),
                )
            )
            continue
        seen.add(payout.pk)
        if payout.connected_account.stripe_account_id != account_id:
            differences.append(
                _difference(
                    "account_mismatch",
                    f"Transfer {transfer['id']} went to {account_id}, payout #{payout.pk} names "
                    f"{payout.connected_account.stripe_account_id}.",
                    account=account_id,
                    artist_id=payout.artist_id,
                    payout_id=payout.pk,
                    stripe_id=transfer["id"],
                )
            )
        if int(transfer.get("amount") or 0) != payout.amount_minor or currency != payout.currency:
            differences.append(
                _difference(
                    "amount_mismatch",
                    f"Transfer {transfer['id']} is {_money(transfer.get('amount') or 0, currency)}; "
                    f"payout #{payout.pk} is {_money(payout.amount_minor, payout.currency)}.",
                    account=account_id,
                    artist_id=payout.artist_id,
                    payout_id=payout.pk,
                    stripe_id=transfer["id"],
                    expected_minor=payout.amount_minor,
                    actual_minor=int(transfer.get("amount") or 0),
                )
            )
        reversed_amount = int(transfer.get("amount_reversed") or 0)
        if payout.status == Payout.Status.PENDING:
            differences.append(
                _difference(
                    "transfer_not_recorded",
                    f"Stripe made transfer {transfer['id']} for payout #{payout.pk}, still "
                    f"planned here (its run was interrupted; the resume records it).",
                    account=account_id,
                    artist_id=payout.artist_id,
                    payout_id=payout.pk,
                    stripe_id=transfer["id"],
                )
            )
        elif reversed_amount and payout.status != Payout.Status.REVERSED:
            differences.append(
                _difference(
                    "reversal_not_recorded",
                    f"Stripe reversed {_money(reversed_amount, currency)} of transfer "
                    f"{transfer['id']}; payout #{payout.pk} is {payout.get_status_display().lower()} here.",
                    account=account_id,
                    artist_id=payout.artist_id,
                    payout_id=payout.pk,
                    stripe_id=transfer["id"],
                    expected_minor=0,
                    actual_minor=reversed_amount,
                )
            )
        elif payout.status == Payout.Status.REVERSED and reversed_amount < payout.amount_minor:
            differences.append(
                _difference(
                    "reversal_missing_at_stripe",
                    f"Payout #{payout.pk} is reversed here; Stripe reversed "
                    f"{_money(reversed_amount, currency)} of {transfer['id']}.",
                    account=account_id,
                    artist_id=payout.artist_id,
                    payout_id=payout.pk,
                    stripe_id=transfer["id"],
                    expected_minor=payout.amount_minor,
                    actual_minor=reversed_amount,
                )
            )

    # 2. Our sent payouts whose transfer Stripe does not list.
    for payout in payouts:
        if payout.stripe_transfer_id and payout.pk not in seen:
            differences.append(
                _difference(
                    "transfer_missing_at_stripe",
                    f"Payout #{payout.pk} ({_money(payout.amount_minor, payout.currency)}) "
                    f"names transfer {payout.stripe_transfer_id}, which Stripe does not list.",
                    account=payout.connected_account.stripe_account_id,
                    artist_id=payout.artist_id,
                    payout_id=payout.pk,
                    stripe_id=payout.stripe_transfer_id,
                    expected_minor=payout.amount_minor,
                )
            )

    # 3. The ledger against our payouts: one payout entry per sent line, one reversal if reversed.
    lines = PayoutLine.objects.select_related("payout", "ledger_entry", "reversal_entry").exclude(
        payout__status=Payout.Status.DISCARDED
    )
    for line in lines:
        payout = line.payout
        posted = line.ledger_entry
        should_post = payout.status in Payout.PAID_OUT or payout.status == Payout.Status.REVERSED
        if should_post and (posted is None or posted.amount_minor != -line.amount_minor):
            differences.append(
                _difference(
                    "ledger_mismatch",
                    f"Payout #{payout.pk} ({payout.get_status_display().lower()}) pays "
                    f"{_money(line.amount_minor, payout.currency)} for program {line.program_id}; the ledger "
                    + (
                        "has no payout entry."
                        if posted is None
                        else f"says {_money(-posted.amount_minor, posted.currency)}."
                    ),
                    account=payout.connected_account.stripe_account_id,
                    artist_id=payout.artist_id,
                    payout_id=payout.pk,
                    expected_minor=line.amount_minor,
                    actual_minor=-posted.amount_minor if posted else 0,
                )
            )
        if not should_post and posted is not None and line.reversal_entry_id is None:
            differences.append(
                _difference(
                    "ledger_mismatch",
                    f"Payout #{payout.pk} was never sent, yet the ledger took "
                    f"{_money(-posted.amount_minor, posted.currency)} off the balance.",
                    account=payout.connected_account.stripe_account_id,
                    artist_id=payout.artist_id,
                    payout_id=payout.pk,
                    expected_minor=0,
                    actual_minor=-posted.amount_minor,
                )
            )
        reversed_here = payout.status == Payout.Status.REVERSED
        if reversed_here != (line.reversal_entry_id is not None) and posted is not None:
            differences.append(
                _difference(
                    "ledger_mismatch",
                    f"Payout #{payout.pk} is {payout.get_status_display().lower()}; the ledger "
                    f"{'has no reversal' if reversed_here else 'reversed it'}.",
                    account=payout.connected_account.stripe_account_id,
                    artist_id=payout.artist_id,
                    payout_id=payout.pk,
                )
            )

    # 4. Per account and currency: what Stripe sent (net of reversals) against what the
    # ledger paid out (payout entries net of their reversals).
    paid_out = (
        LedgerEntry.objects.filter(source_type=PayoutLine.SOURCE_TYPE, kind=LedgerEntry.Kind.PAYOUT)
        .values("artist_id", "currency")
        .annotate(total=Sum("amount_minor"))
    )
    reversed_ = (
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REVERSAL, reverses__kind=LedgerEntry.Kind.PAYOUT)
        .values("artist_id", "currency")
        .annotate(total=Sum("amount_minor"))
    )
    ledger: dict[tuple[int, str], int] = defaultdict(int)
    for row in paid_out:
        ledger[(row["artist_id"], row["currency"])] -= row["total"]
    for row in reversed_:
        ledger[(row["artist_id"], row["currency"])] -= row["total"]
    artist_account = {a.artist_id: a.stripe_account_id for a in accounts.values()}
    keys = {(artist_account.get(artist), currency) for artist, currency in ledger} | set(sent_by_account)
    for key_account, currency in sorted((a, c) for a, c in keys if a):
        account = accounts.get(key_account)
        ours = ledger.get((account.artist_id, currency), 0) if account else 0
        theirs = sent_by_account.get((key_account, currency), 0)
        if ours != theirs:
            differences.append(
                _difference(
                    "account_total_mismatch",
                    f"{key_account}: Stripe sent {_money(theirs, currency)} net of reversals; "
                    f"the ledger paid out {_money(ours, currency)}.",
                    account=key_account,
                    artist_id=account.artist_id if account else None,
                    expected_minor=ours,
                    actual_minor=theirs,
                )
            )

    # 5. The connected accounts' payouts: our state must be Stripe's.
    followed = [p for p in payouts if p.stripe_payout_id]
    stripe_payouts: dict[str, dict[str, Any]] = {}
    for account_id in sorted({p.connected_account.stripe_account_id for p in followed}):
        for item in gateway.account_payouts(account_id=account_id):
            stripe_payouts[item["id"]] = item
    for payout in followed:
        listed = stripe_payouts.get(payout.stripe_payout_id or "")
        account_id = payout.connected_account.stripe_account_id
        if listed is None:
            differences.append(
                _difference(
                    "account_payout_missing",
                    f"Payout #{payout.pk} follows {payout.stripe_payout_id}, which {account_id} does not list.",
                    account=account_id,
                    artist_id=payout.artist_id,
                    payout_id=payout.pk,
                    stripe_id=payout.stripe_payout_id,
                )
            )
            continue
        expected = _EXPECTED_STATE.get(listed.get("status") or "")
        if expected is not None and payout.status in _EXPECTED_STATE.values() and payout.status != expected:
            differences.append(
                _difference(
                    "status_mismatch",
                    f"Payout #{payout.pk} is {payout.get_status_display().lower()} here; Stripe's "
                    f"{listed['id']} is {listed.get('status')}.",
                    account=account_id,
                    artist_id=payout.artist_id,
                    payout_id=payout.pk,
                    stripe_id=listed["id"],
                )
            )
    counts = (len(accounts), len(transfers), len(followed))
    return differences, counts
