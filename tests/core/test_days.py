"""One day rule for quotas, payouts, reports and labour, held under a time zone that is not
UTC (the rules used to agree only while TIME_ZONE was UTC): a day runs from local midnight
to local midnight of the current time zone (tester_platform/common/days.py)."""

import datetime as dt

import pytest
from django.test import override_settings

from generation.models import GenerationJob
from generation.selectors import quota_left
from generation.services import Budget, _day_bounds
from payments.models import LedgerEntry
from payments.payouts import period_cutoff
from tester_platform.common.days import day_bounds, days_bounds, local_day
from tester_platform.labour.selectors import weekly_earnings
from tester_platform.labour.services import iso_week, previous_week
from tests.generation.conftest import make_tester, submit

# UTC+9 all year: local midnight of 10 March 2026 is 15:00 UTC on the 9th.
TOKYO = "Asia/Tokyo"
DAY = dt.date(2026, 3, 10)  # a Tuesday
LOCAL_MIDNIGHT = dt.datetime(2026, 3, 9, 15, 0, tzinfo=dt.UTC)
JUST_AFTER = LOCAL_MIDNIGHT + dt.timedelta(minutes=30)  # 00:30 on the 10th in Tokyo, the 9th in UTC


@override_settings(TIME_ZONE=TOKYO)
def test_the_engines_and_the_product_cut_a_day_at_the_same_local_midnight():
    start, end = day_bounds(DAY)
    assert (start, end) == (LOCAL_MIDNIGHT, LOCAL_MIDNIGHT + dt.timedelta(days=1))
    assert _day_bounds(DAY) == (start, end)  # the generation engine's quota window
    assert period_cutoff(DAY) == end  # the payments engine's end of a payout period
    assert days_bounds(DAY, DAY) == (start, end)  # finance reports
    assert days_bounds(DAY - dt.timedelta(days=6), DAY) == (start - dt.timedelta(days=6), end)


@override_settings(TIME_ZONE=TOKYO)
def test_a_moment_just_after_local_midnight_is_on_the_local_day_for_everyone():
    assert local_day(JUST_AFTER) == DAY
    start, end = day_bounds(local_day(JUST_AFTER))
    assert start <= JUST_AFTER < end
    # The pay floor's "previous week" is the week before the local day's week.
    assert previous_week(JUST_AFTER + dt.timedelta(days=6)) == iso_week(DAY - dt.timedelta(days=1))[0]


@override_settings(TIME_ZONE=TOKYO)
def test_weekly_earnings_put_a_line_of_local_monday_morning_in_that_week():
    monday_00_30 = LOCAL_MIDNIGHT - dt.timedelta(days=1) + dt.timedelta(minutes=30)  # Mon 9 March, Tokyo
    line = LedgerEntry(kind=LedgerEntry.Kind.TIME, amount_minor=1_000, currency="EUR", created_at=monday_00_30)
    weeks = dict(weekly_earnings(lines=[line], currency="EUR", weeks=2, today=DAY))
    assert weeks == {dt.date(2026, 3, 2): 0, dt.date(2026, 3, 9): 1_000}


@pytest.mark.django_db
@override_settings(TIME_ZONE=TOKYO)
def test_a_job_submitted_just_after_local_midnight_is_charged_to_the_local_day():
    tester = make_tester()
    budget = dict(max_concurrent_jobs=5, daily_compute_seconds=100, reserve_seconds=7)
    job = submit(tester, budget=budget)
    GenerationJob.objects.filter(pk=job.pk).update(created_at=JUST_AFTER)

    def charged(day):
        return quota_left(artist=tester.artist, program_id=tester.program.pk, budget=Budget(**budget), day=day)[
            "compute_seconds_charged_today"
        ]

    assert charged(DAY) == 7  # the reservation counts on the 10th, local time
    assert charged(DAY - dt.timedelta(days=1)) == 0  # not on the UTC date of the moment
    resets_at = quota_left(artist=tester.artist, program_id=tester.program.pk, budget=Budget(**budget), day=DAY)[
        "resets_at"
    ]
    assert dt.datetime.fromisoformat(resets_at) == LOCAL_MIDNIGHT + dt.timedelta(days=1)
