"""Connected accounts and payout runs: the write path from the unpaid ledger to Stripe
transfers, exactly once.

The protocol (why each step is where it is):
1. `payout_run_create` fixes every amount in one transaction, from ONE aggregate query
   over the ledger (`unpaid_balances`), and commits each Payout as pending with an
   idempotency key derived from the run and the artist. A partial unique constraint
   allows one pending payout per artist and currency, and the in-flight set is read
   before the balances, so two runs can never both compute the same money.
2. `payout_run_execute` sends one transfer per pending payout with that key. Before
   sending a payout that was attempted before, it asks Stripe for a transfer of the
   payout's transfer group: after a crash between Stripe's answer and our write, the
   transfer is found and recorded, never sent twice (and the key makes a blind retry
   return the same transfer anyway).
3. Recording a transfer (from the answer, the search, or a webhook, whichever comes
   first) marks the payout sent and posts its ledger payout entries in one transaction;
   a failure or a reversal posts the exact reversal, so the balance is owed again.

The engine takes policy as arguments and imports nothing from the platform; the platform
wraps these services with its audit trail."""
from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import Any, Callable

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from payments import gateway
from payments.errors import GatewayError, PayoutConflict, PayoutError, TransferRefused
from payments.ledger import ledger_reverse, payout_post
from payments.models import ConnectedAccount, Payout, PayoutLine, PayoutRun, RateCard
from payments.money import format_minor
from payments.selectors import unpaid_balances
from payments.signals import payouts_updated

log = logging.getLogger(__name__)


# --- connected accounts ----------------------------------------------------------------------

def connected_account_for(*, artist: Any) -> ConnectedAccount | None:
    return ConnectedAccount.objects.filter(artist_id=getattr(artist, "pk", artist)).first()


def connected_account_start(*, artist: Any, email: str, refresh_url: str, return_url: str,
                            country: str = "DE") -> tuple[ConnectedAccount, str]:
    """The artist's Express account (created on first use) and a fresh onboarding link."""
    account = connected_account_for(artist=artist)
    if account is None:
        data = gateway.account_create(
            email=email, country=country, artist_ref=str(artist.public_id),
            idempotency_key=f"atelier-account-{artist.public_id}")
        state = gateway.account_state(data)
        try:
            with transaction.atomic():
                account = ConnectedAccount.objects.create(artist=artist, stripe_account_id=data["id"], **state)
        except IntegrityError:  # a double click: the key gave both the same account
            account = ConnectedAccount.objects.get(artist=artist)
    url = gateway.account_link_create(account_id=account.stripe_account_id, refresh_url=refresh_url,
                                      return_url=return_url)
    return account, url


def connected_account_apply(*, data: dict) -> tuple[ConnectedAccount | None, dict]:
    """Store what a Stripe account object says (from an `account.updated` event or a
    retrieve). Returns the row (None for an account that is not ours) and what changed."""
    account = ConnectedAccount.objects.select_for_update().filter(stripe_account_id=data.get("id") or "").first()
    if account is None:
        return None, {}
    state = gateway.account_state(data)
    changed = {k: v for k, v in state.items() if getattr(account, k) != v}
    if changed:
        for key, value in changed.items():
            setattr(account, key, value)
        account.updated_at = timezone.now()
        account.save(update_fields=[*changed, "updated_at"])
    return account, changed


@transaction.atomic
def connected_account_refresh(*, account: ConnectedAccount) -> tuple[ConnectedAccount, dict]:
    """Ask Stripe for the account now (the artist came back from onboarding)."""
    data = gateway.account_retrieve(account_id=account.stripe_account_id)
    refreshed, changed = connected_account_apply(data=data)
    return refreshed or account, changed


# --- payout runs: create -------------------------------------------------------------------

def period_cutoff(period_end: dt.date) -> dt.datetime:
    """The exclusive end of a period that ends on `period_end` (midnight after it, local time)."""
    return timezone.make_aware(dt.datetime.combine(period_end + dt.timedelta(days=1), dt.time.min))


def _minimums(program_ids: set[int]) -> dict[int, tuple[int, str]]:
    """Each program's minimum payout from its current published rate card."""
    result: dict[int, tuple[int, str]] = {}
    cards = (RateCard.objects.filter(program_id__in=program_ids, published_at__isnull=False)
             .order_by("program_id", "-version").values_list("program_id", "minimum_payout_minor", "currency"))
    for program_id, minimum, currency in cards:
        result.setdefault(program_id, (minimum, currency))
    return result


def _skip(skipped: list, *, artist_id: int, currency: str, unpaid: int, code: str, reason: str,
          program_id: int | None = None) -> None:
    skipped.append({"artist_id": artist_id, "currency": currency, "unpaid_minor": unpaid, "code": code,
                    "reason": reason, "program_id": program_id})


@transaction.atomic
def payout_run_create(*, period_end: dt.date, program_id: int | None = None, created_by: Any = None,
                      scheduled: bool = False, today: dt.date | None = None) -> PayoutRun:
    """Plan a run: who is paid how much (pending payouts), and who cannot be paid and why."""
    if not isinstance(period_end, dt.date) or isinstance(period_end, dt.datetime):
        raise PayoutError("period_end is a date.", field="period_end")
    if period_end > (today or timezone.localdate()):
        raise PayoutError("A period cannot end in the future.", field="period_end")
    as_of = period_cutoff(period_end)
    run = PayoutRun.objects.create(program_id=program_id, period_end=period_end, as_of=as_of,
                                   created_by_id=getattr(created_by, "pk", created_by), scheduled=scheduled)
    # Read what is in flight BEFORE the balances: a transfer recorded in between has then
    # either left the balance already or still shows as in flight (see module docstring).
    in_flight = dict(((a, c), r) for a, c, r in Payout.objects.filter(status=Payout.Status.PENDING)
                     .values_list("artist_id", "currency", "run_id"))
    rows = unpaid_balances(program_id=program_id, as_of=as_of, by_program=True)
    artist_ids = {row["artist_id"] for row in rows}
    accounts = {a.artist_id: a for a in ConnectedAccount.objects.filter(artist_id__in=artist_ids)}
    minimums = _minimums({row["program_id"] for row in rows})

    groups: dict[tuple[int, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["artist_id"], row["currency"])].append(row)

    skipped: list[dict] = []
    planned: list[tuple[Payout, list[PayoutLine]]] = []
    for (artist_id, currency), lines in sorted(groups.items()):
        unpaid = sum(row["unpaid_minor"] for row in lines)
        account = accounts.get(artist_id)
        if (artist_id, currency) in in_flight:
            _skip(skipped, artist_id=artist_id, currency=currency, unpaid=unpaid, code="in_flight",
                  reason=f"A payout is still in flight in run #{in_flight[(artist_id, currency)]}.")
            continue
        if account is None:
            _skip(skipped, artist_id=artist_id, currency=currency, unpaid=unpaid, code="no_account",
                  reason="No payout account connected yet.")
            continue
        if not account.payouts_enabled:
            missing = ", ".join(account.missing)
            _skip(skipped, artist_id=artist_id, currency=currency, unpaid=unpaid, code="payouts_not_enabled",
                  reason=f"Payouts are not enabled on the Stripe account ({missing}).")
            continue
        paid_lines = []
        for row in lines:
            minimum, card_currency = minimums.get(row["program_id"], (0, currency))
            if card_currency == currency and row["unpaid_minor"] < minimum:
                _skip(skipped, artist_id=artist_id, currency=currency, unpaid=row["unpaid_minor"],
                      code="below_minimum", program_id=row["program_id"],
                      reason=f"{format_minor(row['unpaid_minor'], currency)} is below the program's minimum "
                             f"payout of {format_minor(minimum, currency)}.")
                continue
            paid_lines.append(PayoutLine(program_id=row["program_id"], amount_minor=row["unpaid_minor"]))
        if not paid_lines:
            continue
        payout = Payout(run=run, artist_id=artist_id, connected_account=account, currency=currency,
                        amount_minor=sum(line.amount_minor for line in paid_lines),
                        idempotency_key=f"atelier-payout-{run.uid.hex}-{artist_id}-{currency.lower()}")
        planned.append((payout, paid_lines))

    created = _insert_payouts(planned, skipped)
    totals: dict[str, int] = defaultdict(int)
    for payout in created:
        totals[payout.currency] += payout.amount_minor
    run.skipped = skipped
    run.payout_count = len(created)
    run.total_minor = dict(totals)
    run.save(update_fields=["skipped", "payout_count", "total_minor"])
    return run


def _insert_payouts(planned: list[tuple[Payout, list[PayoutLine]]], skipped: list) -> list[Payout]:
    if not planned:
        return []
    try:
        with transaction.atomic():
            payouts = Payout.objects.bulk_create([p for p, _ in planned])
            _insert_lines(planned)
            payouts_updated.send(sender=Payout, artist_ids={p.artist_id for p in payouts})
            return payouts
    except IntegrityError:
        pass  # another run planned one of these artists meanwhile: go one by one
    created = []
    for payout, lines in planned:
        try:
            with transaction.atomic():
                payout.pk = None
                payout.save()
                _insert_lines([(payout, lines)])
                created.append(payout)
        except IntegrityError:
            _skip(skipped, artist_id=payout.artist_id, currency=payout.currency, unpaid=payout.amount_minor,
                  code="in_flight", reason="A payout was planned for this artist by another run at the same time.")
    return created


def _insert_lines(planned) -> None:
    rows = []
    for payout, lines in planned:
        for line in lines:
            line.payout = payout
            line.pk = None
            rows.append(line)
    PayoutLine.objects.bulk_create(rows)


# --- payout runs: execute / resume ----------------------------------------------------------

def payout_run_execute(*, run_id: int, on_change: Callable[[Payout, str], None] | None = None) -> PayoutRun:
    """Send every pending payout of the run. Safe to call again at any time (a retried
    task, a second click, a resume after a crash): payouts already recorded are skipped,
    and a payout attempted before is looked up at Stripe before anything is sent.

    Stripe unreachable → the run is marked interrupted and raises GatewayError; the
    payouts stay pending for the resume. `on_change(payout, old_status)` is called after
    each payout's state change is committed (the platform audits there)."""
    now = timezone.now()
    claimed = (PayoutRun.objects.filter(pk=run_id).exclude(status__in=PayoutRun.FINAL)
               .update(status=PayoutRun.Status.RUNNING, started_at=Coalesce(F("started_at"), now), last_error=""))
    run = PayoutRun.objects.get(pk=run_id)
    if not claimed:
        return run  # finished: nothing is ever sent twice
    pending_ids = list(Payout.objects.filter(run_id=run_id, status=Payout.Status.PENDING).order_by("id")
                       .values_list("pk", flat=True))
    # Chunks of plain queries, not one server-side cursor held open across every commit.
    for start in range(0, len(pending_ids), 500):
        chunk = (Payout.objects.filter(pk__in=pending_ids[start:start + 500], status=Payout.Status.PENDING)
                 .select_related("connected_account").order_by("id"))
        for payout in chunk:
            try:
                _send(payout, on_change=on_change)
            except GatewayError as exc:
                PayoutRun.objects.filter(pk=run_id).update(status=PayoutRun.Status.INTERRUPTED,
                                                           last_error=exc.message)
                raise
    return payout_run_finish(run_id=run_id)


payout_run_resume = payout_run_execute


def payout_run_finish(*, run_id: int) -> PayoutRun:
    run = PayoutRun.objects.get(pk=run_id)
    if Payout.objects.filter(run_id=run_id, status=Payout.Status.PENDING).exists():
        return run
    failed = Payout.objects.filter(run_id=run_id, status__in=Payout.FINAL).exists()
    status = PayoutRun.Status.DONE_WITH_FAILURES if failed else PayoutRun.Status.DONE
    PayoutRun.objects.filter(pk=run_id).exclude(status__in=PayoutRun.FINAL).update(
        status=status, finished_at=timezone.now())
    run.refresh_from_db()
    return run


def _metadata(payout: Payout) -> dict[str, str]:
    return {"atelier_payout": str(payout.pk), "atelier_run": str(payout.run_id),
            "atelier_artist": str(payout.artist_id)}


def _send(payout: Payout, *, on_change=None) -> None:
    if payout.attempts > 0:
        # An earlier attempt may have reached Stripe and died before recording the answer.
        found = gateway.transfer_find(transfer_group=payout.transfer_group)
        if found is not None:
            _recorded(payout, found, on_change)
            return
    Payout.objects.filter(pk=payout.pk, status=Payout.Status.PENDING).update(
        attempts=F("attempts") + 1, last_attempt_at=timezone.now())
    try:
        transfer = gateway.transfer_create(
            amount_minor=payout.amount_minor, currency=payout.currency,
            destination=payout.connected_account.stripe_account_id, transfer_group=payout.transfer_group,
            metadata=_metadata(payout), idempotency_key=payout.idempotency_key,
            description=f"Atelier payout #{payout.pk}")
    except TransferRefused as refused:
        old, changed = _fail(payout.pk, code=refused.stripe_code, reason=refused.message)
        if changed and on_change:
            on_change(changed, old)
        return
    _recorded(payout, transfer, on_change)


def _recorded(payout: Payout, transfer: dict, on_change) -> None:
    updated, old = record_transfer(payout_id=payout.pk, transfer=transfer)
    if updated is not None and on_change:
        on_change(updated, old)


@transaction.atomic
def record_transfer(*, payout_id: int, transfer: dict) -> tuple[Payout | None, str]:
    """Stripe accepted the payout's transfer: store its id, mark the payout sent and take the
    amount off the unpaid balance (ledger payout entries, once). Returns (payout, old
    status) when something changed, (None, status) when it was already recorded."""
    payout = Payout.objects.select_for_update().get(pk=payout_id)
    old = payout.status
    if payout.status != Payout.Status.PENDING:
        if payout.stripe_transfer_id and payout.stripe_transfer_id != transfer.get("id"):
            raise PayoutConflict(f"Payout {payout.pk} already has transfer {payout.stripe_transfer_id}, "
                                 f"not {transfer.get('id')}.")
        return None, old
    if transfer.get("amount") != payout.amount_minor or str(transfer.get("currency", "")).upper() != payout.currency:
        raise PayoutConflict(f"Transfer {transfer.get('id')} does not match payout {payout.pk}.")
    payout.stripe_transfer_id = transfer["id"]
    payout.status = Payout.Status.SENT
    payout.sent_at = timezone.now()
    payout.save(update_fields=["stripe_transfer_id", "status", "sent_at"])
    for line in payout.lines.select_for_update():
        if line.ledger_entry_id is None:
            line.ledger_entry = payout_post(
                artist=payout.artist_id, program_id=line.program_id, amount_minor=line.amount_minor,
                currency=payout.currency, source=(PayoutLine.SOURCE_TYPE, line.pk),
                source_label=f"Payout #{payout.pk} ({transfer['id']})")
            line.save(update_fields=["ledger_entry"])
    return payout, old


@transaction.atomic
def _fail(payout_id: int, *, code: str, reason: str, final_status: str = Payout.Status.FAILED):
    """The payout failed (or its transfer was reversed): the money is owed again."""
    payout = Payout.objects.select_for_update().get(pk=payout_id)
    old = payout.status
    if payout.status in Payout.FINAL:
        return old, None
    payout.status = final_status
    payout.failure_code = code[:64]
    payout.failure_reason = reason
    payout.failed_at = timezone.now()
    payout.save(update_fields=["status", "failure_code", "failure_reason", "failed_at"])
    for line in payout.lines.select_for_update(of=("self",)).select_related("ledger_entry"):
        if line.ledger_entry_id and not line.reversal_entry_id:
            line.reversal_entry = ledger_reverse(entry=line.ledger_entry,
                                                 memo=f"Payout #{payout.pk} {final_status}: {reason}"[:500])
            line.save(update_fields=["reversal_entry"])
    return old, payout


# --- transfer events (webhooks) ----------------------------------------------------------------

def _payout_for_transfer(transfer: dict) -> Payout | None:
    payout = Payout.objects.filter(stripe_transfer_id=transfer.get("id") or "-").first()
    if payout is None and transfer.get("transfer_group"):
        payout = Payout.objects.filter(idempotency_key=transfer["transfer_group"]).first()
    return payout


@transaction.atomic
def payout_apply_transfer_event(*, event_type: str, transfer: dict) -> list[tuple[Payout, str]]:
    """Bring a payout to what a transfer event says, whatever order events arrive in:
    states only move forward (pending → sent → paid; sent/paid → failed | reversed), and
    an event about a transfer we have not recorded yet records it first. Returns the
    changes [(payout, old status)]; a transfer that is not ours changes nothing."""
    payout = _payout_for_transfer(transfer)
    if payout is None:
        return []
    changes: list[tuple[Payout, str]] = []
    recorded, old = record_transfer(payout_id=payout.pk, transfer=transfer)
    if recorded is not None:
        changes.append((recorded, old))
    payout.refresh_from_db()
    if event_type == "transfer.paid" and payout.status == Payout.Status.SENT:
        Payout.objects.filter(pk=payout.pk, status=Payout.Status.SENT).update(
            status=Payout.Status.PAID, paid_at=timezone.now())
        payouts_updated.send(sender=Payout, artist_ids={payout.artist_id})
        payout.refresh_from_db()
        changes.append((payout, Payout.Status.SENT))
    elif event_type == "transfer.failed":
        old, failed = _fail(payout.pk, code=str(transfer.get("failure_code") or "transfer_failed"),
                            reason=str(transfer.get("failure_message") or "Stripe reported the transfer failed."))
        if failed is not None:
            changes.append((failed, old))
    elif event_type == "transfer.reversed" and (transfer.get("amount_reversed") or 0) >= payout.amount_minor:
        old, reversed_ = _fail(payout.pk, code="transfer_reversed", final_status=Payout.Status.REVERSED,
                               reason="The transfer was reversed: the amount is owed again.")
        if reversed_ is not None:
            changes.append((reversed_, old))
    elif event_type == "transfer.reversed":
        log.warning("partial reversal of %s (%s of %s) left for finance to reconcile", transfer.get("id"),
                    transfer.get("amount_reversed"), payout.amount_minor)
    return changes
