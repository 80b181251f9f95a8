"""Connected accounts and payout runs: the write path from the unpaid ledger to Stripe
transfers, exactly once, and the Connect lifecycle after it.

The protocol (why each step is where it is):
1. `payout_run_create` (prepare) fixes every amount in one transaction, from ONE aggregate
   query over the ledger (`unpaid_balances`), and commits each Payout as pending with an
   idempotency key derived from the run and the artist. A partial unique constraint
   allows one pending payout per artist and currency, and the in-flight set is read
   before the balances, so two runs can never both compute the same money. Nothing is
   sent: the run waits for `payout_run_approve` by someone other than who prepared it.
2. `payout_run_execute` sends one transfer per pending payout with that key. Before
   sending a payout that was attempted before, it asks Stripe for a transfer of the
   payout's transfer group: after a crash between Stripe's answer and our write, the
   transfer is found and recorded, never sent twice (and the key makes a blind retry
   return the same transfer anyway). Any exception marks the run interrupted; every
   execution is a PayoutRunAttempt, and a stalled or interrupted run is resumed through
   this same function (`payout_runs_to_resume`).
3. Recording a transfer (from the answer, the search, or a webhook, whichever comes
   first) marks the payout sent (in the artist's Stripe balance) and posts its ledger
   payout entries in one transaction. A reversed transfer posts the exact reversal, once,
   so the balance is owed again.
4. After that the money is the connected account's: its own payout to the bank (Connect
   events `payout.created/updated/paid/failed`, matched through the payout's balance
   transactions) moves our payout to in transit, arrived or bank failed. None of these
   touch the ledger: a bank failure returns the money to the artist's Stripe balance, not
   to us, and Stripe pays it out again once the bank details are fixed.

The engine takes policy as arguments and imports nothing from the platform; the platform
wraps these services with its audit trail."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from payments import gateway
from payments.errors import (
    FourEyes,
    NothingToPay,
    PaymentsError,
    PayoutConflict,
    PayoutError,
    PayoutNotApproved,
    TransferRefused,
)
from payments.ledger import ledger_reverse, payout_post
from payments.models import ConnectedAccount, Payout, PayoutLine, PayoutRun, PayoutRunAttempt, RateCard
from payments.money import format_minor
from payments.selectors import unpaid_balances
from payments.signals import payouts_updated

log = logging.getLogger(__name__)

# Told of each payout whose status a run changed: (the payout, its status before).
OnChange = Callable[[Payout, str], None]


# --- connected accounts ----------------------------------------------------------------------


def connected_account_for(*, artist: Any) -> ConnectedAccount | None:
    return ConnectedAccount.objects.filter(artist_id=getattr(artist, "pk", artist)).first()


def connected_account_start(
    *, artist: Any, email: str, refresh_url: str, return_url: str, country: str = "DE"
) -> tuple[ConnectedAccount, str]:
    """The artist's Express account (created on first use) and a fresh onboarding link."""
    account = connected_account_for(artist=artist)
    if account is None:
        data = gateway.account_create(
            email=email,
            country=country,
            artist_ref=str(artist.public_id),
            idempotency_key=f"atelier-account-{artist.public_id}",
        )
        state = gateway.account_state(data)
        try:
            with transaction.atomic():
                account = ConnectedAccount.objects.create(artist=artist, stripe_account_id=data["id"], **state)
        except IntegrityError:  # a double click: the key gave both the same account
            account = ConnectedAccount.objects.get(artist=artist)
    url = gateway.account_link_create(
        account_id=account.stripe_account_id, refresh_url=refresh_url, return_url=return_url
    )
    return account, url


def connected_account_apply(
    *, data: dict[str, Any], account_id: str | None = None
) -> tuple[ConnectedAccount | None, dict[str, Any]]:
    """Store what a Stripe account object says (from an `account.updated` event or a
    retrieve). Returns the row (None for an account that is not ours) and what changed.
    `account_id` is the Connect event's `account`: an event about one account carrying
    another account's object changes nothing."""
    if account_id is not None and data.get("id") != account_id:
        log.warning("account.updated for %s carries account %s: ignored", account_id, data.get("id"))
        return None, {}
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
def connected_account_refresh(*, account: ConnectedAccount) -> tuple[ConnectedAccount, dict[str, Any]]:
    """Ask Stripe for the account now (the artist came back from onboarding)."""
    data = gateway.account_retrieve(account_id=account.stripe_account_id)
    refreshed, changed = connected_account_apply(data=data)
    return refreshed or account, changed


# --- payout runs: prepare -----------------------------------------------------------------


def period_cutoff(period_end: dt.date) -> dt.datetime:
    """The exclusive end of a period that ends on `period_end`: the local midnight after it,
    the product's day rule (tester_platform.common.days), which the engine may not import."""
    return timezone.make_aware(dt.datetime.combine(period_end + dt.timedelta(days=1), dt.time.min))


def _minimums(program_ids: set[int]) -> dict[int, tuple[int, str]]:
    """Each program's minimum payout from its current published rate card."""
    result: dict[int, tuple[int, str]] = {}
    cards = (
        RateCard.objects.filter(program_id__in=program_ids, published_at__isnull=False)
        .order_by("program_id", "-version")
        .values_list("program_id", "minimum_payout_minor", "currency")
    )
    for program_id, minimum, currency in cards:
        result.setdefault(program_id, (minimum, currency))
    return result


def _skip(
    skipped: list[Any],
    *,
    artist_id: int,
    currency: str,
    unpaid: int,
    code: str,
    reason: str,
    program_id: int | None = None,
) -> None:
    skipped.append(
        {
            "artist_id": artist_id,
            "currency": currency,
            "unpaid_minor": unpaid,
            "code": code,
            "reason": reason,
            "program_id": program_id,
        }
    )


@transaction.atomic
def payout_run_create(
    *,
    period_end: dt.date,
    program_id: int | None = None,
    created_by: Any = None,
    scheduled: bool = False,
    today: dt.date | None = None,
    allow_empty: bool = False,
) -> PayoutRun:
    """Prepare a run: who is paid how much (pending payouts), and who cannot be paid and
    why. Nothing is sent before `payout_run_approve`. A run with nothing to pay is not
    created: NothingToPay carries the skipped artists and their reasons (`allow_empty`
    keeps it, for measurements)."""
    if not isinstance(period_end, dt.date) or isinstance(period_end, dt.datetime):
        raise PayoutError("period_end is a date.", field="period_end")
    if period_end > (today or timezone.localdate()):
        raise PayoutError("A period cannot end in the future.", field="period_end")
    as_of = period_cutoff(period_end)
    run = PayoutRun.objects.create(
        program_id=program_id,
        period_end=period_end,
        as_of=as_of,
        created_by_id=getattr(created_by, "pk", created_by),
        scheduled=scheduled,
    )
    # Read what is in flight BEFORE the balances: a transfer recorded in between has then
    # either left the balance already or still shows as in flight (see module docstring).
    in_flight = dict(
        ((a, c), r)
        for a, c, r in Payout.objects.filter(status=Payout.Status.PENDING).values_list(
            "artist_id", "currency", "run_id"
        )
    )
    rows = unpaid_balances(program_id=program_id, as_of=as_of, by_program=True)
    artist_ids = {row["artist_id"] for row in rows}
    accounts = {a.artist_id: a for a in ConnectedAccount.objects.filter(artist_id__in=artist_ids)}
    minimums = _minimums({row["program_id"] for row in rows})

    groups: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["artist_id"], row["currency"])].append(row)

    skipped: list[dict[str, Any]] = []
    planned: list[tuple[Payout, list[PayoutLine]]] = []
    for (artist_id, currency), lines in sorted(groups.items()):
        unpaid = sum(row["unpaid_minor"] for row in lines)
        account = accounts.get(artist_id)
        if (artist_id, currency) in in_flight:
            _skip(
                skipped,
                artist_id=artist_id,
                currency=currency,
                unpaid=unpaid,
                code="in_flight",
                reason=f"A payout is still in flight in run #{in_flight[(artist_id, currency)]}.",
            )
            continue
        if account is None:
            _skip(
                skipped,
                artist_id=artist_id,
                currency=currency,
                unpaid=unpaid,
                code="no_account",
                reason="No payout account connected yet.",
            )
            continue
        if not account.payouts_enabled:
            missing = ", ".join(account.missing)
            _skip(
                skipped,
                artist_id=artist_id,
                currency=currency,
                unpaid=unpaid,
                code="payouts_not_enabled",
                reason=f"Payouts are not enabled on the Stripe account ({missing}).",
            )
            continue
        paid_lines = []
        for row in lines:
            minimum, card_currency = minimums.get(row["program_id"], (0, currency))
            if card_currency == currency and row["unpaid_minor"] < minimum:
                _skip(
                    skipped,
                    artist_id=artist_id,
                    currency=currency,
                    unpaid=row["unpaid_minor"],
                    code="below_minimum",
                    program_id=row["program_id"],
                    reason=f"{format_minor(row['unpaid_minor'], currency)} is below the program's minimum "
                    f"payout of {format_minor(minimum, currency)}.",
                )
                continue
            paid_lines.append(PayoutLine(program_id=row["program_id"], amount_minor=row["unpaid_minor"]))
        if not paid_lines:
            continue
        payout = Payout(
            run=run,
            artist_id=artist_id,
            connected_account=account,
            currency=currency,
            amount_minor=sum(line.amount_minor for line in paid_lines),
            idempotency_key=f"atelier-payout-{run.uid.hex}-{artist_id}-{currency.lower()}",
        )
        planned.append((payout, paid_lines))

    created = _insert_payouts(planned, skipped)
    if not created and not allow_empty:
        # Raised inside the atomic block: the run row goes with it.
        raise NothingToPay(period_end=period_end, skipped=skipped)
    totals: dict[str, int] = defaultdict(int)
    for payout in created:
        totals[payout.currency] += payout.amount_minor
    run.skipped = skipped
    run.payout_count = len(created)
    run.total_minor = dict(totals)
    run.save(update_fields=["skipped", "payout_count", "total_minor"])
    return run


def _insert_payouts(planned: list[tuple[Payout, list[PayoutLine]]], skipped: list[Any]) -> list[Payout]:
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
            _skip(
                skipped,
                artist_id=payout.artist_id,
                currency=payout.currency,
                unpaid=payout.amount_minor,
                code="in_flight",
                reason="A payout was planned for this artist by another run at the same time.",
            )
    return created


def _insert_lines(planned: list[tuple[Payout, list[PayoutLine]]]) -> None:
    rows = []
    for payout, lines in planned:
        for line in lines:
            line.payout = payout
            line.pk = None
            rows.append(line)
    PayoutLine.objects.bulk_create(rows)


def run_preview_digest(*, run_id: int) -> str:
    """A fingerprint of what a prepared run will send (every payout's artist, currency,
    amount and per-program lines). The approver's page carries it: approving a preview
    approves exactly these amounts, and a page about something else is refused."""
    rows = (
        PayoutLine.objects.filter(payout__run_id=run_id)
        .values_list(
            "payout_id", "payout__artist_id", "payout__currency", "payout__amount_minor", "program_id", "amount_minor"
        )
        .order_by("payout_id", "program_id")
    )
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()[:32]


# --- payout runs: approve / discard ----------------------------------------------------------


@transaction.atomic
def payout_run_approve(*, run_id: int, approved_by: Any, digest: str | None = None) -> PayoutRun:
    """Four eyes: a second person approves the prepared amounts; only then may transfers be
    created. The preparer never approves their own run (FourEyes; a check constraint
    says the same in the schema)."""
    run = PayoutRun.objects.select_for_update().get(pk=run_id)
    approver_id = getattr(approved_by, "pk", approved_by)
    if approver_id is None:
        raise FourEyes("A person approves a payout run; the schedule only prepares them.")
    if run.status != PayoutRun.Status.PREPARED:
        raise PayoutConflict(
            f"Payout run #{run.pk} is {run.get_status_display().lower()}: only a run awaiting approval can be approved."
        )
    if run.created_by_id is not None and run.created_by_id == approver_id:
        raise FourEyes("You prepared this run: a second finance user approves it.")
    if digest is not None and digest != run_preview_digest(run_id=run.pk):
        raise PayoutConflict("The run's amounts differ from the preview you approved; open it again.")
    run.status = PayoutRun.Status.APPROVED
    run.approved_by_id = approver_id
    run.approved_at = timezone.now()
    run.save(update_fields=["status", "approved_by", "approved_at"])
    return run


@transaction.atomic
def payout_run_discard(*, run_id: int, discarded_by: Any = None) -> PayoutRun:
    """Drop a prepared run: its payouts were never sent, so the money simply stays owed (and
    the artists can be planned again)."""
    run = PayoutRun.objects.select_for_update().get(pk=run_id)
    if run.status != PayoutRun.Status.PREPARED:
        raise PayoutConflict(
            f"Payout run #{run.pk} is {run.get_status_display().lower()}: only a run awaiting "
            f"approval can be discarded."
        )
    artist_ids = set(run.payouts.values_list("artist_id", flat=True))
    run.payouts.filter(status=Payout.Status.PENDING, attempts=0).update(status=Payout.Status.DISCARDED)
    payouts_updated.send(sender=Payout, artist_ids=artist_ids)
    run.status = PayoutRun.Status.DISCARDED
    run.discarded_by_id = getattr(discarded_by, "pk", discarded_by)
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "discarded_by", "finished_at"])
    return run


# --- payout runs: execute / resume ----------------------------------------------------------

PROGRESS_EVERY_SECONDS = 1


def payout_run_execute(
    *, run_id: int, on_change: OnChange | None = None, trigger: str = "manual", actor: Any = None
) -> PayoutRun:
    """Send every pending payout of an approved run. Safe to call again at any time (a
    retried task, a second click, the beat task's resume after a crash): payouts already
    recorded are skipped, and a payout attempted before is looked up at Stripe before
    anything is sent.

    Every call on a run it may execute is a PayoutRunAttempt. ANY exception (Stripe
    unreachable, a lost database connection) marks the run interrupted with the error and
    is raised again; pending payouts stay pending for the resume. A run nobody approved is
    refused (PayoutNotApproved). `on_change(payout, old_status)` is called after each
    payout's state change is committed (the platform audits there)."""
    now = timezone.now()
    claimed = PayoutRun.objects.filter(pk=run_id, status__in=PayoutRun.EXECUTABLE).update(
        status=PayoutRun.Status.RUNNING, started_at=Coalesce(F("started_at"), now), last_error="", last_progress_at=now
    )
    run = PayoutRun.objects.get(pk=run_id)
    if not claimed:
        if run.status == PayoutRun.Status.PREPARED:
            raise PayoutNotApproved(
                f"Payout run #{run.pk} awaits approval by a second finance user; nothing is sent before."
            )
        return run  # finished or discarded: nothing is ever sent twice
    if trigger == "resume":
        # The attempts this one takes over stopped without a word (a killed worker, a lost
        # connection): say so, rather than leave them "running" forever.
        PayoutRunAttempt.objects.filter(run_id=run_id, outcome=PayoutRunAttempt.Outcome.RUNNING).update(
            outcome=PayoutRunAttempt.Outcome.INTERRUPTED,
            finished_at=now,
            error="Stopped without finishing (no progress: its worker died or lost its connection); resumed.",
        )
    attempt = PayoutRunAttempt.objects.create(run_id=run_id, trigger=trigger[:20], actor_id=getattr(actor, "pk", actor))
    recorded = 0
    try:
        pending_ids = list(
            Payout.objects.filter(run_id=run_id, status=Payout.Status.PENDING)
            .order_by("id")
            .values_list("pk", flat=True)
        )
        touched = time.monotonic()
        # Chunks of plain queries, not one server-side cursor held open across every commit.
        for start in range(0, len(pending_ids), 500):
            chunk = (
                Payout.objects.filter(pk__in=pending_ids[start : start + 500], status=Payout.Status.PENDING)
                .select_related("connected_account")
                .order_by("id")
            )
            for payout in chunk:
                _send(payout, on_change=on_change)
                recorded += 1
                if time.monotonic() - touched >= PROGRESS_EVERY_SECONDS:
                    # What the stall detector reads: this execution is alive.
                    PayoutRun.objects.filter(pk=run_id).update(last_progress_at=timezone.now())
                    PayoutRunAttempt.objects.filter(pk=attempt.pk).update(recorded=recorded)
                    touched = time.monotonic()
    except Exception as exc:
        message = exc.message if isinstance(exc, PaymentsError) else f"{type(exc).__name__}: {exc}"
        try:
            PayoutRun.objects.filter(pk=run_id, status=PayoutRun.Status.RUNNING).update(
                status=PayoutRun.Status.INTERRUPTED, last_error=message[:2000]
            )
            PayoutRunAttempt.objects.filter(pk=attempt.pk).update(
                outcome=PayoutRunAttempt.Outcome.INTERRUPTED,
                finished_at=timezone.now(),
                recorded=recorded,
                error=message[:2000],
            )
        except Exception:  # the database is what failed: the run stays running and stalls; resumed later
            log.exception("could not mark payout run %s interrupted", run_id)
        raise
    run = payout_run_finish(run_id=run_id)
    PayoutRunAttempt.objects.filter(pk=attempt.pk).update(
        outcome=PayoutRunAttempt.Outcome.FINISHED, finished_at=timezone.now(), recorded=recorded
    )
    return run


payout_run_resume = payout_run_execute


def payout_run_finish(*, run_id: int) -> PayoutRun:
    run = PayoutRun.objects.get(pk=run_id)
    if Payout.objects.filter(run_id=run_id, status=Payout.Status.PENDING).exists():
        return run
    failed = Payout.objects.filter(run_id=run_id, status=Payout.Status.FAILED).exists()
    status = PayoutRun.Status.DONE_WITH_FAILURES if failed else PayoutRun.Status.DONE
    PayoutRun.objects.filter(pk=run_id).exclude(status__in=PayoutRun.FINAL).update(
        status=status, finished_at=timezone.now(), last_error=""
    )
    run.refresh_from_db()
    return run


def payout_runs_to_resume(*, stall_seconds: int, now: dt.datetime | None = None) -> list[int]:
    """Runs an execution left behind: interrupted ones, and approved or running ones
    without progress for `stall_seconds` (a worker killed mid-run, a task the broker lost)."""
    limit = (now or timezone.now()) - dt.timedelta(seconds=stall_seconds)
    stalled = Q(status__in=[PayoutRun.Status.APPROVED, PayoutRun.Status.RUNNING]) & (
        Q(last_progress_at__lt=limit) | Q(last_progress_at__isnull=True, approved_at__lt=limit)
    )
    return list(
        PayoutRun.objects.filter(Q(status=PayoutRun.Status.INTERRUPTED) | stalled)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _metadata(payout: Payout) -> dict[str, str]:
    return {
        "atelier_payout": str(payout.pk),
        "atelier_run": str(payout.run_id),
        "atelier_artist": str(payout.artist_id),
    }


def _send(payout: Payout, *, on_change: OnChange | None = None) -> None:
    if payout.attempts > 0:
        # An earlier attempt may have reached Stripe and died before recording the answer.
        found = gateway.transfer_find(transfer_group=payout.transfer_group)
        if found is not None:
            _recorded(payout, found, on_change)
            return
    Payout.objects.filter(pk=payout.pk, status=Payout.Status.PENDING).update(
        attempts=F("attempts") + 1, last_attempt_at=timezone.now()
    )
    try:
        transfer = gateway.transfer_create(
            amount_minor=payout.amount_minor,
            currency=payout.currency,
            destination=payout.connected_account.stripe_account_id,
            transfer_group=payout.transfer_group,
            metadata=_metadata(payout),
            idempotency_key=payout.idempotency_key,
            description=f"Atelier payout #{payout.pk}",
        )
    except TransferRefused as refused:
        old, changed = _fail(payout.pk, code=refused.stripe_code, reason=refused.message)
        if changed and on_change:
            on_change(changed, old)
        return
    _recorded(payout, transfer, on_change)


def _recorded(payout: Payout, transfer: dict[str, Any], on_change: OnChange | None) -> None:
    updated, old = record_transfer(payout_id=payout.pk, transfer=transfer)
    if updated is not None and on_change:
        on_change(updated, old)


@transaction.atomic
def record_transfer(*, payout_id: int, transfer: dict[str, Any]) -> tuple[Payout | None, str]:
    """Stripe accepted the payout's transfer: the money is in the artist's Stripe balance.
    Store the transfer (and its payment in that balance), mark the payout sent and take the
    amount off the unpaid balance (ledger payout entries, once). Returns (payout, old
    status) when something changed, (None, status) when it was already recorded."""
    payout = Payout.objects.select_for_update().get(pk=payout_id)
    old = payout.status
    if payout.status != Payout.Status.PENDING:
        if payout.stripe_transfer_id and payout.stripe_transfer_id != transfer.get("id"):
            raise PayoutConflict(
                f"Payout {payout.pk} already has transfer {payout.stripe_transfer_id}, not {transfer.get('id')}."
            )
        if payout.stripe_transfer_id and not payout.stripe_destination_payment and transfer.get("destination_payment"):
            payout.stripe_destination_payment = _id_of(transfer["destination_payment"])
            payout.save(update_fields=["stripe_destination_payment"])
        return None, old
    if transfer.get("amount") != payout.amount_minor or str(transfer.get("currency", "")).upper() != payout.currency:
        raise PayoutConflict(f"Transfer {transfer.get('id')} does not match payout {payout.pk}.")
    payout.stripe_transfer_id = transfer["id"]
    payout.stripe_destination_payment = _id_of(transfer.get("destination_payment")) or None
    payout.status = Payout.Status.SENT
    payout.sent_at = timezone.now()
    payout.save(update_fields=["stripe_transfer_id", "stripe_destination_payment", "status", "sent_at"])
    for line in payout.lines.select_for_update():
        if line.ledger_entry_id is None:
            line.ledger_entry = payout_post(
                artist=payout.artist_id,
                program_id=line.program_id,
                amount_minor=line.amount_minor,
                currency=payout.currency,
                source=(PayoutLine.SOURCE_TYPE, line.pk),
                source_label=f"Payout #{payout.pk} ({transfer['id']})",
            )
            line.save(update_fields=["ledger_entry"])
    return payout, old


def _id_of(value: Any) -> str:
    """An expandable Stripe field: the id string, or the object's id."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


@transaction.atomic
def _fail(
    payout_id: int, *, code: str, reason: str, final_status: str = Payout.Status.FAILED
) -> tuple[str, Payout | None]:
    """Stripe refused the transfer, or reversed it: the money is owed again. Posts the exact
    reversal of each payout entry the transfer wrote, once (a replayed or late event finds
    the payout final and changes nothing)."""
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
        if line.ledger_entry is not None and not line.reversal_entry_id:
            line.reversal_entry = ledger_reverse(
                entry=line.ledger_entry, memo=f"Payout #{payout.pk} {final_status}: {reason}"[:500]
            )
            line.save(update_fields=["reversal_entry"])
    return old, payout


# --- transfer events (the platform endpoint) ---------------------------------------------------


def _payout_for_transfer(transfer: dict[str, Any]) -> Payout | None:
    payout = Payout.objects.filter(stripe_transfer_id=transfer.get("id") or "-").first()
    if payout is None and transfer.get("transfer_group"):
        payout = Payout.objects.filter(idempotency_key=transfer["transfer_group"]).first()
    return payout


TRANSFER_EVENTS = ("transfer.created", "transfer.updated", "transfer.reversed")


@transaction.atomic
def payout_apply_transfer_event(*, event_type: str, transfer: dict[str, Any]) -> list[tuple[Payout, str]]:
    """Bring a payout to what a transfer event says, whatever order events arrive in. A
    transfer has no paid or failed state since Stripe split transfers from payouts: it is
    created (the money is in the artist's Stripe balance) and may be reversed (the money is
    back with the platform: owed again, one reversal entry per payout line, once). An event
    about a transfer we have not recorded yet records it first. Returns the changes
    [(payout, old status)]; a transfer that is not ours changes nothing."""
    if event_type not in TRANSFER_EVENTS:
        return []
    payout = _payout_for_transfer(transfer)
    if payout is None:
        return []
    changes: list[tuple[Payout, str]] = []
    recorded, old = record_transfer(payout_id=payout.pk, transfer=transfer)
    if recorded is not None:
        changes.append((recorded, old))
    payout.refresh_from_db()
    reversed_amount = transfer.get("amount_reversed") or 0
    if reversed_amount >= payout.amount_minor:
        old, reversed_ = _fail(
            payout.pk,
            code="transfer_reversed",
            final_status=Payout.Status.REVERSED,
            reason="The transfer was reversed: the amount is owed to you again and goes out with the next payout run.",
        )
        if reversed_ is not None:
            changes.append((reversed_, old))
    elif reversed_amount:
        log.warning(
            "partial reversal of %s (%s of %s) left for finance to reconcile",
            transfer.get("id"),
            reversed_amount,
            payout.amount_minor,
        )
    return changes


# --- the connected account's payouts (the Connect endpoint) -----------------------------------

PAYOUT_EVENTS = ("payout.created", "payout.updated", "payout.paid", "payout.failed", "payout.canceled")
# A Stripe payout's status, as the state of the money it carries.
_FROM_STRIPE_PAYOUT = {
    "pending": Payout.Status.IN_TRANSIT,
    "in_transit": Payout.Status.IN_TRANSIT,
    "paid": Payout.Status.ARRIVED,
    "failed": Payout.Status.BANK_FAILED,
    "canceled": Payout.Status.SENT,
}
# Within one Stripe payout states only move forward; "paid" may still turn "failed" (a bank
# can return a payout after Stripe saw it paid), never the other way round.
_RANK: dict[str, int] = {
    Payout.Status.SENT: 0,
    Payout.Status.IN_TRANSIT: 1,
    Payout.Status.ARRIVED: 2,
    Payout.Status.BANK_FAILED: 3,
}


def payout_event_sources(*, account_id: str, stripe_payout: dict[str, Any]) -> list[dict[str, Any]]:
    """Read (outside any transaction, before the event is applied) what a connected
    account's payout carries, and record first any transfer of that account that was sent
    but never recorded (a run that died between Stripe's answer and its write): so that
    every payment the payout names can be matched."""
    account = ConnectedAccount.objects.filter(stripe_account_id=account_id).first()
    if account is None or not stripe_payout.get("id"):
        return []
    for payout in Payout.objects.filter(connected_account=account, status=Payout.Status.PENDING, attempts__gt=0):
        found = gateway.transfer_find(transfer_group=payout.transfer_group)
        if found is not None:
            record_transfer(payout_id=payout.pk, transfer=found)
    for payout in Payout.objects.filter(
        connected_account=account, stripe_transfer_id__isnull=False, stripe_destination_payment__isnull=True
    ):
        assert payout.stripe_transfer_id is not None  # the filter's
        record_transfer(payout_id=payout.pk, transfer=gateway.transfer_retrieve(transfer_id=payout.stripe_transfer_id))
    return gateway.payout_balance_transactions(account_id=account_id, payout_id=stripe_payout["id"])


@transaction.atomic
def payout_apply_account_payout(
    *, account_id: str, stripe_payout: dict[str, Any], sources: list[dict[str, Any]]
) -> list[tuple[Payout, str]]:
    """Bring our payouts to what one of the connected account's payouts says (its status in
    the event), whatever order the events arrive in: `payment` balance transactions name
    our transfers' payments; `payout_failure` ones name an earlier payout whose money this
    one pays out again (after a bank failure). Matched only within `account_id`, the
    Connect event's account. No ledger entry is written: the money is the artist's."""
    po_id = stripe_payout.get("id") or ""
    target = _FROM_STRIPE_PAYOUT.get(stripe_payout.get("status") or "")
    account = ConnectedAccount.objects.filter(stripe_account_id=account_id).first()
    if account is None or not po_id or target is None:
        return []
    payments = [_id_of(t.get("source")) for t in sources if t.get("type") == "payment"]
    failed_payouts = [_id_of(t.get("source")) for t in sources if t.get("type") == "payout_failure"]
    matched = (
        Payout.objects.select_for_update()
        .filter(connected_account=account)
        .filter(
            Q(stripe_destination_payment__in=payments)
            | Q(stripe_payout_id__in=failed_payouts)
            | Q(stripe_payout_id=po_id)
        )
    )
    created = int(stripe_payout.get("created") or 0)
    changes = []
    for payout in matched.order_by("pk"):
        old = payout.status
        if old not in _RANK:
            continue  # planned, reversed or refused: a payout event changes nothing
        if payout.stripe_payout_id == po_id:
            if _RANK[target] <= _RANK[old]:
                continue  # replayed or late: states only move forward
        elif payout.stripe_payout_id and created < (payout.stripe_payout_created or 0):
            continue  # an earlier payout's late event: the money has moved on
        fields = ["status", "stripe_payout_id", "stripe_payout_created"]
        if payout.stripe_payout_id != po_id:
            payout.failure_code, payout.failure_reason = "", ""  # a new payout: the last failure is history
            fields += ["failure_code", "failure_reason"]
        payout.status = target
        payout.stripe_payout_id = po_id
        payout.stripe_payout_created = created or payout.stripe_payout_created
        if stripe_payout.get("arrival_date"):
            payout.arrival_date = dt.datetime.fromtimestamp(int(stripe_payout["arrival_date"]), dt.UTC).date()
            fields.append("arrival_date")
        now = timezone.now()
        if target == Payout.Status.IN_TRANSIT:
            payout.in_transit_at = now
            fields.append("in_transit_at")
        elif target == Payout.Status.ARRIVED:
            payout.paid_at = now
            fields.append("paid_at")
        elif target == Payout.Status.BANK_FAILED:
            payout.failed_at = now
            payout.failure_code = str(stripe_payout.get("failure_code") or "payout_failed")[:64]
            payout.failure_reason = str(stripe_payout.get("failure_message") or "Your bank returned the payout.")
            fields += ["failed_at", "failure_code", "failure_reason"]
        payout.save(update_fields=list(dict.fromkeys(fields)))
        changes.append((payout, old))
    return changes
