"""Engine reads: rate cards, balances and ledger lines, for the platform's pages, API,
payout runs and reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.db.models import Q, QuerySet, Sum

from payments.models import LedgerEntry, RateCard
from payments.money import format_minor

if TYPE_CHECKING:
    from payments.models import Payout, PayoutLine

Kind = LedgerEntry.Kind
# Money paid out: payouts, and reversals of payouts (a failed transfer gives it back).
_PAID = Q(kind=Kind.PAYOUT) | Q(kind=Kind.REVERSAL, reverses__kind=Kind.PAYOUT)


def current_rate_card(*, program_id: int) -> RateCard | None:
    return RateCard.objects.filter(program_id=program_id, published_at__isnull=False).order_by("-version").first()


@dataclass(frozen=True)
class Balance:
    """One currency's balance, in minor units. unpaid == earned - paid == the ledger sum."""

    currency: str
    earned: int
    paid: int
    unpaid: int

    def as_dict(self) -> dict[str, int]:
        return {"earned": self.earned, "unpaid": self.unpaid, "paid": self.paid}

    @property
    def earned_display(self) -> str:
        return format_minor(self.earned, self.currency)

    @property
    def paid_display(self) -> str:
        return format_minor(self.paid, self.currency)

    @property
    def unpaid_display(self) -> str:
        return format_minor(self.unpaid, self.currency)


def _entries(
    *,
    artist: Any = None,
    program_id: int | None = None,
    currency: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> QuerySet[LedgerEntry]:
    qs = LedgerEntry.objects.all()
    if artist is not None:
        qs = qs.filter(artist_id=getattr(artist, "pk", artist))
    if program_id is not None:
        qs = qs.filter(program_id=program_id)
    if currency is not None:
        qs = qs.filter(currency=currency)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lt=end)
    return qs


def balances_for(*, artist: Any, program_id: int | None = None) -> list[Balance]:
    """The artist's balance per currency (most used first). Earned counts every entry that
    is not money paid out, so adjustments and reversals of earnings reduce it."""
    rows = (
        _entries(artist=artist, program_id=program_id)
        .values("currency")
        .annotate(total=Sum("amount_minor"), paid_out=Sum("amount_minor", filter=_PAID))
        .order_by("currency")
    )
    result = []
    for row in rows:
        total, paid = row["total"] or 0, -(row["paid_out"] or 0)
        result.append(Balance(currency=row["currency"], earned=total + paid, paid=paid, unpaid=total))
    return result


def balance_for(*, artist: Any, currency: str, program_id: int | None = None) -> Balance:
    for balance in balances_for(artist=artist, program_id=program_id):
        if balance.currency == currency:
            return balance
    return Balance(currency=currency, earned=0, paid=0, unpaid=0)


def unpaid_balances(
    *,
    program_id: int | None = None,
    currency: str | None = None,
    as_of: dt.datetime | None = None,
    by_program: bool = False,
) -> list[dict[str, Any]]:
    """What each artist is owed (unpaid > 0), per artist and currency, counting entries
    created before `as_of`: the input of a payout run. Rows: {artist_id, currency,
    unpaid_minor}, ordered by artist id; with `by_program`, per program too (rows carry
    program_id), which is how a run knows which program each part of a payout is owed by.
    One aggregate query either way.

    Money already paid out counts whenever it was paid: a payout entry is written when the
    transfer is sent, after the period it pays for, and a later run for the same period
    must see that it was paid (else it would pay it again)."""
    qs = _entries(program_id=program_id, currency=currency)
    if as_of is not None:
        qs = qs.filter(Q(created_at__lt=as_of) | _PAID)
    keys = ("artist_id", "program_id", "currency") if by_program else ("artist_id", "currency")
    rows = qs.values(*keys).annotate(unpaid_minor=Sum("amount_minor")).filter(unpaid_minor__gt=0).order_by(*keys)
    return [dict(row) for row in rows]


def ledger_sum(
    *,
    artist: Any,
    program_id: int | None = None,
    currency: str | None = None,
    kinds: Iterable[str] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> int:
    qs = _entries(artist=artist, program_id=program_id, currency=currency, start=start, end=end)
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    return qs.aggregate(total=Sum("amount_minor"))["total"] or 0


def ledger_lines(*, artist: Any, program_id: int | None = None) -> QuerySet[LedgerEntry]:
    return _entries(artist=artist, program_id=program_id).select_related("program").order_by("-created_at", "-id")


def entries_for_sources(*, source_type: str, source_ids: Iterable[Any]) -> dict[str, list[LedgerEntry]]:
    """Entries per source id (as a string), for showing what an item earned in a list."""
    result: dict[str, list[LedgerEntry]] = {}
    for entry in LedgerEntry.objects.filter(source_type=source_type, source_id__in=[str(i) for i in source_ids]):
        result.setdefault(entry.source_id, []).append(entry)
    return result


# --- payouts ------------------------------------------------------------------------------


def payouts_for_artist(*, artist: Any) -> QuerySet[Payout]:
    from payments.models import Payout

    return (
        Payout.objects.filter(artist_id=getattr(artist, "pk", artist))
        .select_related("run", "run__program")
        .prefetch_related("lines__program")
        .order_by("-created_at", "-id")
    )


def payout_totals_by_status(*, run_id: int | None = None) -> list[dict[str, Any]]:
    """[{status, currency, count, amount_minor}] over all payouts or one run's."""
    from django.db.models import Count

    from payments.models import Payout

    qs = Payout.objects.all() if run_id is None else Payout.objects.filter(run_id=run_id)
    return cast(
        list[dict[str, Any]],
        list(
            qs.values("status", "currency")
            .annotate(count=Count("id"), amount_minor=Sum("amount_minor"))
            .order_by("status", "currency")
        ),
    )


def run_lines_by_program(*, run_id: int) -> list[dict[str, Any]]:
    """Per program, currency and payout status: how much the run pays (minor units)."""
    from django.db.models import Count

    from payments.models import PayoutLine

    return cast(
        list[dict[str, Any]],
        list(
            PayoutLine.objects.filter(payout__run_id=run_id)
            .values("program_id", "program__name", "payout__currency", "payout__status")
            .annotate(amount_minor=Sum("amount_minor"), payouts=Count("payout_id", distinct=True))
            .order_by("program__name", "payout__currency", "payout__status")
        ),
    )


def run_composition_by_kind(*, run: Any) -> list[dict[str, Any]]:
    """What the run's amounts are made of: for the (artist, program) pairs it pays, the
    ledger entries the amounts were computed from, summed by kind (earnings, adjustments,
    earlier payouts and reversals). Per currency these sum to the run's planned total."""
    from payments.models import PayoutLine

    pairs = list(
        PayoutLine.objects.filter(payout__run_id=run.pk).values_list("payout__artist_id", "program_id").distinct()
    )
    if not pairs:
        return []
    cutoff = min(run.as_of, run.created_at)
    counted = Q(created_at__lt=cutoff) | (_PAID & Q(created_at__lt=run.created_at))
    condition = Q()
    by_program: dict[int, list[int]] = {}
    for artist_id, program_id in pairs:
        by_program.setdefault(program_id, []).append(artist_id)
    for program_id, artist_ids in by_program.items():
        condition |= Q(program_id=program_id, artist_id__in=artist_ids)
    return cast(
        list[dict[str, Any]],
        list(
            LedgerEntry.objects.filter(condition)
            .filter(counted)
            .values("kind", "currency")
            .annotate(amount_minor=Sum("amount_minor"))
            .order_by("currency", "kind")
        ),
    )


def period_ledger_by_kind(
    *, start: dt.datetime, end: dt.datetime, program_id: int | None = None
) -> list[dict[str, Any]]:
    """Ledger movements in [start, end) per program, currency and kind."""
    return cast(
        list[dict[str, Any]],
        list(
            _entries(program_id=program_id, start=start, end=end)
            .values("program_id", "program__name", "currency", "kind")
            .annotate(amount_minor=Sum("amount_minor"))
            .order_by("program__name", "currency", "kind")
        ),
    )


def period_payout_lines(*, start: dt.datetime, end: dt.datetime, program_id: int | None = None) -> QuerySet[PayoutLine]:
    """Payout lines whose transfer was sent in [start, end)."""
    from payments.models import PayoutLine

    qs = PayoutLine.objects.filter(payout__sent_at__gte=start, payout__sent_at__lt=end)
    if program_id is not None:
        qs = qs.filter(program_id=program_id)
    return qs


# --- statements ------------------------------------------------------------------------------


@dataclass
class StatementPart:
    """The ledger lines one payout line (one program) pays, and their sum."""

    program_id: int
    program_name: str
    amount_minor: int
    entries: list[Any]


def _counted_by_run(run: Any) -> Q:
    """The entries a run's amounts were computed from (see `unpaid_balances`): created before
    its cut-off, plus money paid out before the run was prepared."""
    cutoff = min(run.as_of, run.created_at)
    return Q(created_at__lt=cutoff) | (_PAID & Q(created_at__lt=run.created_at))


def payout_statement(*, payout: Any) -> list[StatementPart]:
    """Every ledger line a payout pays, per program: the entries its run counted for the
    artist, program and currency, less the groups earlier payouts already settled (what
    their run counted, with their payout entry) and earlier payouts that were reversed
    (the payout entry and its reversal). The lines of each part add up to the part's
    amount; if history does not split that cleanly (a run for an earlier period after a
    later one) the part lists every counted line, which still adds up."""
    from payments.models import Payout, PayoutLine

    parts = []
    settled_statuses = list(Payout.PAID_OUT)
    for line in payout.lines.select_related("program").order_by("program__name", "pk"):
        base = LedgerEntry.objects.filter(
            artist_id=payout.artist_id, program_id=line.program_id, currency=payout.currency
        )
        counted = list(
            base.filter(_counted_by_run(payout.run)).select_related("program", "reverses").order_by("created_at", "pk")
        )
        counted_ids = {entry.pk for entry in counted}
        earlier = (
            PayoutLine.objects.filter(
                payout__artist_id=payout.artist_id,
                program_id=line.program_id,
                payout__currency=payout.currency,
                payout__run__created_at__lte=payout.run.created_at,
            )
            .exclude(payout_id=payout.pk)
            .filter(ledger_entry__isnull=False)
            .filter(Q(payout__status__in=settled_statuses) | Q(payout__status=Payout.Status.REVERSED))
            .select_related("payout__run")
        )
        # An id may be None (a line not yet reversed): such a group is never settled.
        settled: set[int | None] = set()
        for other in earlier:
            if other.payout.status == Payout.Status.REVERSED:
                group: set[int | None] = {other.ledger_entry_id, other.reversal_entry_id}
            else:
                group = set(base.filter(_counted_by_run(other.payout.run)).values_list("pk", flat=True))
                group.add(other.ledger_entry_id)
            if group <= counted_ids:
                settled |= group
        entries = [entry for entry in counted if entry.pk not in settled]
        if sum(entry.amount_minor for entry in entries) != line.amount_minor:
            entries = counted
        parts.append(
            StatementPart(
                program_id=line.program_id,
                program_name=line.program.name,
                amount_minor=line.amount_minor,
                entries=entries,
            )
        )
    return parts
