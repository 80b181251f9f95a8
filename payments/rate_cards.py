"""The engine's write path for rate cards. The platform decides who may write one and
records why (policy, audit); this module keeps the card's own invariants: amounts are
non-negative integer minor units, versions only grow, and a published card is never
edited (a new version is drafted and published instead)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from payments.errors import InvalidRateCard, RateCardImmutable
from payments.models import RateCard

# The terms a draft may set; everything else (program, version, published_at) is the engine's.
TERMS = (
    "currency",
    "hourly_rate_minor",
    "pay_floor_hourly_minor",
    "share_bonus_minor",
    "bounty_low_minor",
    "bounty_medium_minor",
    "bounty_high_minor",
    "bounty_critical_minor",
    "marketing_licence_minor",
    "daily_time_cap_minutes",
    "minimum_payout_minor",
    "notes",
)
AMOUNTS = tuple(t for t in TERMS if t.endswith("_minor"))


def _check_terms(terms: dict[str, Any]) -> dict[str, Any]:
    unknown = set(terms) - set(TERMS)
    if unknown:
        raise InvalidRateCard(f"Unknown rate card term(s): {', '.join(sorted(unknown))}.")
    missing = [t for t in TERMS if t not in terms and t != "notes"]
    if missing:
        raise InvalidRateCard(f"Missing rate card term(s): {', '.join(missing)}.", field=missing[0])
    currency = terms["currency"]
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise InvalidRateCard("The currency is a three-letter ISO code, like EUR.", field="currency")
    for name in AMOUNTS + ("daily_time_cap_minutes",):
        value = terms[name]
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidRateCard("Amounts are integer minor units, never floats.", field=name)
        if value < 0:
            raise InvalidRateCard("Amounts cannot be negative.", field=name)
    if not 1 <= terms["daily_time_cap_minutes"] <= 24 * 60:
        raise InvalidRateCard("The daily cap is between 1 minute and 24 hours.", field="daily_time_cap_minutes")
    return {**terms, "currency": currency.upper(), "notes": terms.get("notes") or ""}


@transaction.atomic
def rate_card_save_draft(*, program_id: int, terms: dict[str, Any]) -> tuple[RateCard, dict[str, Any]]:
    """Write the program's one draft: the unpublished card above every published version,
    created as the next version when there is none. Returns the draft and the terms it
    had before (empty for a new draft). Two first drafts at once would both take the same
    version number and one would fail on the unique constraint: callers serialise drafts
    of one program (the platform locks the program row)."""
    terms = _check_terms(terms)
    cards = RateCard.objects.select_for_update().filter(program_id=program_id)
    newest = cards.order_by("-version").first()
    if newest is not None and newest.published_at is None:
        before = {t: getattr(newest, t) for t in TERMS}
        for name, value in terms.items():
            setattr(newest, name, value)
        newest.save(update_fields=list(TERMS))
        return newest, before
    version = newest.version + 1 if newest is not None else 1
    return RateCard.objects.create(program_id=program_id, version=version, **terms), {}


@transaction.atomic
def rate_card_publish(*, card_id: int) -> tuple[RateCard, RateCard | None]:
    """Publish a draft: it becomes the current card (the highest published version).
    Returns the card and the one it replaces."""
    card = RateCard.objects.select_for_update().get(pk=card_id)
    if card.published_at is not None:
        raise RateCardImmutable(f"Rate card version {card.version} is already published; draft a new version.")
    previous = (
        RateCard.objects.filter(program_id=card.program_id, published_at__isnull=False).order_by("-version").first()
    )
    if previous is not None and previous.version > card.version:
        raise RateCardImmutable(
            f"Version {card.version} is older than the published version {previous.version}; draft a new version.",
            field="version",
        )
    card.published_at = timezone.now()
    card.save(update_fields=["published_at"])
    return card, previous
