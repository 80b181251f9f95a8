"""Calendar days, one rule for the whole product: a day is a day of Django's current time
zone (TIME_ZONE, or one activated for the request), from its local midnight to the next.

Quotas ("today's compute"), time suggestions, weekly earnings, pay-floor weeks, payout
periods and finance reports all cut time with these, so they agree on where a day starts
whatever TIME_ZONE is. Database-side grouping (TruncDate, TruncWeek) uses the same current
time zone. The engines cannot import the product and apply the same rule themselves:
generation.services._day_bounds (the quota window) and payments.payouts.period_cutoff;
tests/core/test_days.py holds all of them to it under a time zone that is not UTC."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def local_day(moment: dt.datetime | None = None) -> dt.date:
    """The day `moment` (default: now) falls on, in the current time zone."""
    return timezone.localdate(moment)


def day_start(day: dt.date) -> dt.datetime:
    """The aware instant `day` begins: its local midnight (Django resolves a missing or
    repeated midnight of a daylight-saving change the way zoneinfo does)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def day_bounds(day: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of `day` (default: today), as aware instants."""
    day = day or local_day()
    return day_start(day), day_start(day + dt.timedelta(days=1))


def days_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of `first`, end of `last`): the instants of a period of whole days."""
    return day_start(first), day_start(last + dt.timedelta(days=1))
