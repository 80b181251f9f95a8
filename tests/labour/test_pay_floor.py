"""The pay floor: an artist's effective hourly rate over a week is topped up to exactly
the program's floor, once per artist, program and week."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from payments.models import LedgerEntry
from payments.selectors import balance_for
from tester_platform.errors import InvalidInput
from tester_platform.labour.models import PayFloorAssessment, TimeEntry
from tester_platform.labour.services import (
    feedback_review,
    feedback_submit,
    iso_week,
    pay_floor_assess,
    pay_floor_run,
    previous_week,
    time_entry_review,
    time_entry_submit,
)
from tester_platform.labour.tasks import pay_floor_run_task
from tests.labour.helpers import ledger_total, make_rate_card

pytestmark = pytest.mark.django_db


def work(artist, program, moderator, *, hours_per_day: list[int], extra_minutes: int = 0, bounties=("low", "low")):
    today = timezone.localdate()
    for offset, hours in enumerate(hours_per_day):
        minutes = hours * 60 + (extra_minutes if offset == 0 else 0)
        entry = time_entry_submit(
            artist=artist,
            program=program,
            date=today - dt.timedelta(days=offset),
            minutes=minutes,
            description="testing",
        )
        time_entry_review(entry=entry, reviewer=moderator, decision="accept")
    for severity in bounties:
        report = feedback_submit(artist=artist, program=program, category="bug", severity=severity, title="t", body="b")
        feedback_review(report=report, reviewer=moderator, decision="accept")


def after_this_week():
    _, _, next_monday = iso_week(timezone.localdate())
    return dt.datetime.combine(next_monday, dt.time(3), tzinfo=dt.UTC)


def test_ten_accepted_hours_with_small_bounties_are_topped_up_to_exactly_the_floor(artist, program, moderator):
    make_rate_card(program, hourly_rate_minor=500, pay_floor_hourly_minor=1200, bounty_low_minor=300)
    work(artist, program, moderator, hours_per_day=[4, 3, 3])
    earned = ledger_total(artist)
    assert earned == 10 * 500 + 2 * 300  # 5600: €5.60 an hour, under the €12 floor

    [assessment] = pay_floor_run(week=timezone.localdate(), now=after_this_week())
    assert (assessment.accepted_minutes, assessment.earned_minor, assessment.target_minor) == (600, 5600, 12000)
    assert assessment.topup_minor == 6400
    topup = LedgerEntry.objects.get(kind="pay_floor_topup")
    assert topup.amount_minor == 6400 and topup.source_id == str(assessment.pk)
    assert topup.rate_display == "floor €12.00/h × 600 min (rate card v1)"
    assert ledger_total(artist) == 12000 == 1200 * 10  # exactly the floor
    assert balance_for(artist=artist, currency="EUR").unpaid == 12000

    # Running the job again (or a retried task) posts nothing.
    again = pay_floor_run(week=timezone.localdate(), now=after_this_week())
    assert [a.pk for a in again] == [assessment.pk]
    assert LedgerEntry.objects.filter(kind="pay_floor_topup").count() == 1
    assert PayFloorAssessment.objects.count() == 1
    assert ledger_total(artist) == 12000


def test_the_floor_total_is_rounded_up_to_the_minor_unit(artist, program, moderator):
    make_rate_card(program, hourly_rate_minor=0, pay_floor_hourly_minor=1234)
    work(artist, program, moderator, hours_per_day=[10], extra_minutes=1, bounties=())
    [assessment] = pay_floor_run(week=timezone.localdate(), now=after_this_week())
    assert assessment.target_minor == 12361  # 1234 × 601 / 60 = 12360.57, up
    assert ledger_total(artist) == 12361


def test_an_artist_already_above_the_floor_gets_no_topup(artist, program, moderator):
    make_rate_card(program, hourly_rate_minor=2500, pay_floor_hourly_minor=1200)
    work(artist, program, moderator, hours_per_day=[2])
    [assessment] = pay_floor_run(week=timezone.localdate(), now=after_this_week())
    assert assessment.topup_minor == 0 and assessment.ledger_entry is None
    assert not LedgerEntry.objects.filter(kind="pay_floor_topup").exists()


def test_share_bonuses_do_not_fill_the_floor(artist, program, moderator):
    from payments.ledger import share_bonus_post

    card = make_rate_card(program, hourly_rate_minor=0, pay_floor_hourly_minor=1200, share_bonus_minor=50_000)
    share_bonus_post(artist=artist, program_id=program.pk, rate_card=card, share_request_id=1)
    work(artist, program, moderator, hours_per_day=[1], bounties=())
    [assessment] = pay_floor_run(week=timezone.localdate(), now=after_this_week())
    assert assessment.topup_minor == 1200


def test_an_open_week_is_not_assessed(artist, program, moderator):
    make_rate_card(program)
    work(artist, program, moderator, hours_per_day=[1], bounties=())
    with pytest.raises(InvalidInput) as error:
        pay_floor_assess(artist_id=artist.pk, program_id=program.pk, week=timezone.localdate())
    assert error.value.field == "week"
    assert not PayFloorAssessment.objects.exists()


def test_the_weekly_command_and_task_are_idempotent(artist, other_artist, program, moderator):
    make_rate_card(program, hourly_rate_minor=0, pay_floor_hourly_minor=1200)
    for who in (artist, other_artist):
        entry = time_entry_submit(
            artist=who,
            program=program,
            date=timezone.localdate() - dt.timedelta(days=8),
            minutes=600,
            description="testing",
        )
        time_entry_review(entry=entry, reviewer=moderator, decision="accept")
    # Accepted last week (the nightly job assesses closed weeks).
    last_week = timezone.now() - dt.timedelta(days=7)
    TimeEntry.objects.update(reviewed_at=last_week)
    out = StringIO()
    call_command("labour_pay_floor", stdout=out)
    assert f"Week {previous_week()}: 2 assessed (2 new), 2 topped up, 24000" in out.getvalue()
    assert pay_floor_run_task.apply(kwargs={"week": previous_week()}).get() == 2
    call_command("labour_pay_floor", "--week", previous_week(), stdout=StringIO())
    assert LedgerEntry.objects.filter(kind="pay_floor_topup").count() == 2
    assert ledger_total(artist) == ledger_total(other_artist) == 12000


def test_a_malformed_week_is_a_clear_error():
    with pytest.raises(InvalidInput):
        iso_week("last week")
    assert iso_week("2026-w14")[0] == "2026-W14"
    assert iso_week(dt.date(2026, 4, 2)) == ("2026-W14", dt.date(2026, 3, 30), dt.date(2026, 4, 6))


def test_the_beat_entry_names_the_registered_task():
    from tester_platform.celery import app
    from tester_platform.labour.schedule import beat_schedule

    [entry] = beat_schedule().values()
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert pay_floor_run_task.name == entry["task"]
