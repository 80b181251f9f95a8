"""The earnings ledger's write path, and the integer arithmetic that turns rates into
amounts. The platform decides what is owed (which item, which rate card); this module
enforces how it is written: once per source and kind, append-only, integer minor units."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction

from payments.errors import InvalidPosting, LedgerConflict
from payments.models import LedgerEntry, RateCard

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SOURCE_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")

Kind = LedgerEntry.Kind
_POSITIVE_KINDS = set(LedgerEntry.EARNING_KINDS)


# --- arithmetic (integers only) --------------------------------------------------------


def time_amount_minor(*, hourly_rate_minor: int, minutes: int) -> int:
    """Pay for `minutes` at `hourly_rate_minor` an hour.

    Rounding rule: to the nearest minor unit, halves rounded up (in the artist's favour).
    `(rate * minutes + 30) // 60` is exact integer arithmetic for non-negative inputs:
    e.g. 2500/h × 1 min = 41.67 → 42; 1250/h × 1 min = 20.83 → 21; 30/h × 1 min = 0.5 → 1."""
    _require_int(hourly_rate_minor=hourly_rate_minor, minutes=minutes)
    if hourly_rate_minor < 0 or minutes < 0:
        raise InvalidPosting("Rates and minutes are never negative.")
    return (hourly_rate_minor * minutes + 30) // 60


def floor_target_minor(*, floor_hourly_minor: int, minutes: int) -> int:
    """What `minutes` of accepted time must earn at least under a pay floor.

    Rounding rule: always up to the next whole minor unit (ceil), so the effective hourly
    rate is never below the floor: `-(-(rate * minutes) // 60)` is integer ceil division.
    e.g. 1234/h × 601 min = 12360.57 → 12361."""
    _require_int(floor_hourly_minor=floor_hourly_minor, minutes=minutes)
    if floor_hourly_minor < 0 or minutes < 0:
        raise InvalidPosting("Rates and minutes are never negative.")
    return -(-(floor_hourly_minor * minutes) // 60)


def floor_topup_minor(*, floor_hourly_minor: int, minutes: int, earned_minor: int) -> int:
    """The top-up that brings `earned_minor` to exactly the floor for `minutes`, or 0."""
    _require_int(earned_minor=earned_minor)
    return max(0, floor_target_minor(floor_hourly_minor=floor_hourly_minor, minutes=minutes) - earned_minor)


def _require_int(**values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidPosting(f"{name} must be an integer number of minor units or minutes.", field=name)


# --- postings ----------------------------------------------------------------------------


@transaction.atomic
def ledger_post(
    *,
    artist: Any,
    program_id: int,
    kind: str,
    amount_minor: int,
    currency: str,
    source: tuple[str, Any],
    rate_card: RateCard | None = None,
    rate_minor: int | None = None,
    rate_basis: str = "",
    quantity: int | None = None,
    created_by: Any = None,
    memo: str = "",
    source_label: str = "",
    reverses: LedgerEntry | None = None,
) -> LedgerEntry:
    """Append one entry, exactly once per (source, kind).

    `source` is (lazy label, id), e.g. ("labour.timeentry", 12): the engine never imports
    the object. A second call for the same source and kind — a double click, two
    reviewers at once, a retried request or task — returns the entry already written
    (its `created` attribute is False) instead of posting again. The unique constraint
    decides the race: the insert runs in a savepoint, and the loser of a concurrent insert
    gets IntegrityError, rolls back to the savepoint and reads the winner's row. A
    duplicate with different terms (artist, amount, currency) raises LedgerConflict.

    Call it inside the caller's transaction so the entry commits with the state change
    that earned it."""
    source_type, source_id = _check_source(source)
    artist_id = getattr(artist, "pk", artist)
    _require_int(amount_minor=amount_minor)
    if kind not in Kind.values:
        raise InvalidPosting(f"Unknown ledger kind {kind!r}.", field="kind")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise InvalidPosting("Currency is a three-letter ISO 4217 code in capitals.", field="currency")
    if amount_minor == 0:
        raise InvalidPosting("A ledger entry moves money; zero is not posted.", field="amount_minor")
    if kind in _POSITIVE_KINDS and amount_minor < 0:
        raise InvalidPosting(f"A {kind} entry is an earning and must be positive.", field="amount_minor")
    if kind == Kind.PAYOUT and amount_minor > 0:
        raise InvalidPosting("A payout leaves the balance: its amount is negative.", field="amount_minor")
    if kind == Kind.REVERSAL and reverses is None:
        raise InvalidPosting("A reversal names the entry it reverses.", field="reverses")
    if rate_card is not None:
        if rate_card.program_id != program_id:
            raise InvalidPosting("The rate card belongs to another program.", field="rate_card")
        if rate_card.currency != currency:
            raise InvalidPosting("The entry's currency differs from its rate card's.", field="currency")
        if rate_card.published_at is None:
            raise InvalidPosting("Only a published rate card can be applied.", field="rate_card")
    if rate_minor is not None:
        _require_int(rate_minor=rate_minor)
    if quantity is not None:
        _require_int(quantity=quantity)

    existing = _existing(source_type, source_id, kind)
    if existing is not None:
        return _same_or_conflict(existing, artist_id=artist_id, amount_minor=amount_minor, currency=currency)
    entry = LedgerEntry(
        artist_id=artist_id,
        program_id=program_id,
        kind=kind,
        amount_minor=amount_minor,
        currency=currency,
        source_type=source_type,
        source_id=source_id,
        source_label=source_label[:200],
        rate_card=rate_card,
        rate_card_version=rate_card.version if rate_card is not None else None,
        rate_minor=rate_minor,
        rate_basis=rate_basis,
        quantity=quantity,
        reverses=reverses,
        memo=memo,
        created_by_id=getattr(created_by, "pk", created_by),
    )
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        existing = _existing(source_type, source_id, kind)
        if existing is None:
            raise
        return _same_or_conflict(existing, artist_id=artist_id, amount_minor=amount_minor, currency=currency)
    entry.created = True
    return entry


def _check_source(source: tuple[str, Any]) -> tuple[str, str]:
    try:
        source_type, source_id = source
    except (TypeError, ValueError):
        raise InvalidPosting("source is a (type label, id) pair.", field="source") from None
    if not isinstance(source_type, str) or not _SOURCE_TYPE.match(source_type) or len(source_type) > 80:
        raise InvalidPosting("source type is a lower-case label such as 'labour.timeentry'.", field="source")
    source_id = str(source_id)
    if not source_id or len(source_id) > 64:
        raise InvalidPosting("source id is 1 to 64 characters.", field="source")
    return source_type, source_id


def _existing(source_type: str, source_id: str, kind: str) -> LedgerEntry | None:
    return LedgerEntry.objects.filter(source_type=source_type, source_id=source_id, kind=kind).first()


def _same_or_conflict(entry: LedgerEntry, *, artist_id: int, amount_minor: int, currency: str) -> LedgerEntry:
    if entry.artist_id != artist_id or entry.amount_minor != amount_minor or entry.currency != currency:
        raise LedgerConflict(
            f"{entry.source_type} {entry.source_id} was already posted as {entry.kind} with other terms "
            f"(entry {entry.pk}); post a correcting entry instead."
        )
    entry.created = False
    return entry


@transaction.atomic
def ledger_reverse(*, entry: LedgerEntry, created_by: Any = None, memo: str = "") -> LedgerEntry:
    """Cancel one entry with its exact negation (once: a second call returns the first
    reversal). A failed or returned payout is reversed this way, and so is an earning
    posted in error. Reversals themselves are not reversed: post an adjustment."""
    if entry.kind == Kind.REVERSAL:
        raise InvalidPosting("A reversal is not reversed; post an adjustment instead.")
    return ledger_post(
        artist=entry.artist_id,
        program_id=entry.program_id,
        kind=Kind.REVERSAL,
        amount_minor=-entry.amount_minor,
        currency=entry.currency,
        source=("payments.ledgerentry", entry.pk),
        created_by=created_by,
        memo=memo,
        source_label=f"Reversal of entry {entry.pk} ({entry.get_kind_display().lower()})",
        reverses=entry,
    )


def share_bonus_post(
    *,
    artist: Any,
    program_id: int,
    rate_card: RateCard,
    share_request_id: int,
    created_by: Any = None,
    source_label: str = "",
) -> LedgerEntry | None:
    """The bonus for one approved share, at `rate_card.share_bonus_minor`, once per share
    request (source "sharing.sharerequest"). None when the card pays no share bonus."""
    if rate_card.share_bonus_minor == 0:
        return None
    return ledger_post(
        artist=artist,
        program_id=program_id,
        kind=Kind.SHARE_BONUS,
        amount_minor=rate_card.share_bonus_minor,
        currency=rate_card.currency,
        source=("sharing.sharerequest", share_request_id),
        rate_card=rate_card,
        rate_minor=rate_card.share_bonus_minor,
        rate_basis=LedgerEntry.RateBasis.PER_ITEM,
        quantity=1,
        created_by=created_by,
        source_label=source_label or f"Share request #{share_request_id}",
    )


def payout_post(
    *,
    artist: Any,
    program_id: int,
    amount_minor: int,
    currency: str,
    source: tuple[str, Any],
    created_by: Any = None,
    memo: str = "",
    source_label: str = "",
) -> LedgerEntry:
    """Record that `amount_minor` (positive: what was sent) left the artist's unpaid balance
    through one payout, once per payout source (e.g. ("payments.payout", payout.pk))."""
    _require_int(amount_minor=amount_minor)
    if amount_minor <= 0:
        raise InvalidPosting("A payout pays a positive amount.", field="amount_minor")
    return ledger_post(
        artist=artist,
        program_id=program_id,
        kind=Kind.PAYOUT,
        amount_minor=-amount_minor,
        currency=currency,
        source=source,
        created_by=created_by,
        memo=memo,
        source_label=source_label or "Payout",
    )
