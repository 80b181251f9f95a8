"""Filing and reviewing testing labour: state transitions that lock, check, audit, and
post to the ledger once at the program's current rate card."""

import datetime as dt

import pytest
from django.utils import timezone

from payments.models import LedgerEntry
from tester_platform.audit.models import AuditEvent
from tester_platform.errors import Conflict, InvalidInput, InvalidTransition, NotAllowed, NotFound
from tester_platform.labour.models import FeedbackReport, TimeEntry
from tester_platform.labour.selectors import time_suggestions
from tester_platform.labour.services import (
    bulk_accept,
    feedback_mark_acted_on,
    feedback_review,
    feedback_submit,
    time_entry_review,
    time_entry_submit,
)
from tester_platform.programs.models import Enrollment
from tests.factories import enroll, sign
from tests.labour.helpers import make_job, make_rate_card, rows

pytestmark = pytest.mark.django_db

YESTERDAY = timezone.localdate() - dt.timedelta(days=1)


def file_time(artist, program, minutes=60, date=YESTERDAY, **kwargs):
    return time_entry_submit(
        artist=artist, program=program, date=date, minutes=minutes, description="testing prompts", **kwargs
    )


# --- feedback ----------------------------------------------------------------------------


def test_accepting_a_report_posts_its_severity_bounty_at_the_current_rate_card(report, moderator, program):
    make_rate_card(program, version=2, bounty_high_minor=3000)
    make_rate_card(program, version=3, bounty_high_minor=9999, published=False)  # a draft is not applied
    feedback_review(report=report, reviewer=moderator, decision="accept")
    report.refresh_from_db()
    assert report.status == "accepted" and report.reviewed_by == moderator and report.reviewed_at
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.amount_minor, entry.currency, entry.rate_card_version) == (
        "feedback_bounty",
        3000,
        "EUR",
        2,
    )
    assert (entry.source_type, entry.source_id, entry.artist) == (
        "labour.feedbackreport",
        str(report.pk),
        report.artist,
    )
    assert entry.created_by == moderator and entry.rate_display == "€30.00 each (rate card v2)"
    event = AuditEvent.objects.get(action="feedback.accepted")
    assert event.subject == report.artist and event.data["ledger_entry"] == entry.pk


def test_accepting_twice_is_a_conflict_and_posts_once(report, moderator, manager):
    feedback_review(report=report, reviewer=moderator, decision="accept")
    before = rows()
    with pytest.raises(InvalidTransition) as error:
        feedback_review(report=report, reviewer=manager, decision="accept")
    assert error.value.http_status == 409 and "already reviewed" in error.value.message
    with pytest.raises(InvalidTransition):
        feedback_review(report=report, reviewer=moderator, decision="reject", reason="changed my mind")
    assert rows() == before
    assert LedgerEntry.objects.count() == 1


def test_rejecting_needs_a_reason_the_artist_can_read(report, moderator):
    with pytest.raises(InvalidInput) as error:
        feedback_review(report=report, reviewer=moderator, decision="reject", reason="  ")
    assert error.value.field == "reason"
    feedback_review(report=report, reviewer=moderator, decision="reject", reason="Expected with this preset.")
    report.refresh_from_db()
    assert report.status == "rejected" and report.reason == "Expected with this preset."
    assert not LedgerEntry.objects.exists()


def test_a_duplicate_names_an_earlier_report_of_the_same_program(
    report, artist, other_artist, program, moderator, other_program
):
    again = feedback_submit(
        artist=other_artist, program=program, category="bug", severity="high", title="Melting hands", body="Same thing."
    )
    with pytest.raises(InvalidInput) as error:
        feedback_review(report=again, reviewer=moderator, decision="duplicate")
    assert error.value.field == "duplicate_of"
    with pytest.raises(InvalidInput):
        feedback_review(report=again, reviewer=moderator, decision="duplicate", duplicate_of_id=again.pk)
    feedback_review(report=again, reviewer=moderator, decision="duplicate", duplicate_of_id=report.pk)
    again.refresh_from_db()
    assert again.status == "duplicate" and again.duplicate_of == report and "#" in again.reason
    assert not LedgerEntry.objects.exists()


def test_without_a_published_rate_card_nothing_is_accepted(artist, program, moderator):
    report = feedback_submit(artist=artist, program=program, category="idea", severity="low", title="t", body="b")
    before = rows()
    with pytest.raises(Conflict) as error:
        feedback_review(report=report, reviewer=moderator, decision="accept")
    assert error.value.code == "no_rate_card"
    assert rows() == before


@pytest.mark.parametrize("who", ["artist", "other_artist", "other_moderator", "outsider", "finance_user"])
def test_only_reviewers_of_the_program_review(report, who, request):
    user = request.getfixturevalue(who)
    # Staff of another program are told the report does not exist (404), artists no (403).
    with pytest.raises(NotFound if who == "other_moderator" else NotAllowed):
        feedback_review(report=report, reviewer=user, decision="accept")
    assert FeedbackReport.objects.get().status == "submitted"


@pytest.mark.parametrize("who", ["moderator", "manager", "admin_user"])
def test_moderators_managers_and_admins_review(report, who, request):
    feedback_review(report=report, reviewer=request.getfixturevalue(who), decision="accept")
    assert LedgerEntry.objects.get().amount_minor == 2500


def test_a_moderator_who_is_also_a_tester_cannot_review_their_own_work(program, moderator, rate_card):
    enroll(moderator, program)
    sign(moderator, program)
    own = feedback_submit(artist=moderator, program=program, category="bug", severity="low", title="t", body="b")
    with pytest.raises(NotAllowed):
        feedback_review(report=own, reviewer=moderator, decision="accept")


def test_feedback_about_another_artists_output_is_refused(artist, other_artist, program, rate_card):
    theirs = make_job(other_artist, program)
    before = rows()
    with pytest.raises(InvalidInput) as error:
        feedback_submit(
            artist=artist, program=program, category="bug", severity="low", title="t", body="b", generation_id=theirs.pk
        )
    assert error.value.field == "generation"
    assert rows() == before
    mine = make_job(artist, program)
    report = feedback_submit(
        artist=artist,
        program=program,
        category="quality",
        severity="medium",
        title="t",
        body="b",
        generation_id=mine.pk,
    )
    assert report.generation == mine


@pytest.mark.parametrize("status", [Enrollment.Status.ONBOARDING, Enrollment.Status.SUSPENDED])
def test_only_testers_of_the_program_file_work(artist, program, other_program, status):
    with pytest.raises(NotAllowed):
        feedback_submit(artist=artist, program=other_program, category="bug", severity="low", title="t", body="b")
    Enrollment.objects.filter(artist=artist).update(status=status)
    with pytest.raises(NotAllowed):
        file_time(artist, program)


def test_the_program_manager_marks_an_accepted_report_acted_on(report, moderator, manager):
    with pytest.raises(InvalidTransition):
        feedback_mark_acted_on(report=report, actor=manager)
    feedback_review(report=report, reviewer=moderator, decision="accept")
    with pytest.raises(NotAllowed):
        feedback_mark_acted_on(report=report, actor=moderator)
    feedback_mark_acted_on(report=report, actor=manager, note="Fixed in model build 0.3.")
    report.refresh_from_db()
    assert report.acted_on_at and report.acted_on_note == "Fixed in model build 0.3."
    with pytest.raises(InvalidTransition):
        feedback_mark_acted_on(report=report, actor=manager)
    assert AuditEvent.objects.filter(action="feedback.acted_on", subject=report.artist).count() == 1


# --- time --------------------------------------------------------------------------------


def test_accepted_time_posts_hourly_rate_times_minutes_rounded_half_up(artist, program, moderator, rate_card):
    entry = file_time(artist, program, minutes=61)
    time_entry_review(entry=entry, reviewer=moderator, decision="accept")
    posted = LedgerEntry.objects.get()
    assert posted.amount_minor == 2542  # 2500 × 61 / 60 = 2541.67
    assert (posted.kind, posted.rate_minor, posted.quantity, posted.rate_basis) == ("time", 2500, 61, "per_hour")
    assert posted.rate_display == "€25.00/h × 61 min (rate card v1)"
    with pytest.raises(InvalidTransition):
        time_entry_review(entry=entry, reviewer=moderator, decision="accept")
    assert LedgerEntry.objects.count() == 1


def test_rejected_time_needs_a_reason_and_pays_nothing(time_entry, moderator):
    with pytest.raises(InvalidInput):
        time_entry_review(entry=time_entry, reviewer=moderator, decision="reject")
    with pytest.raises(InvalidInput):
        time_entry_review(entry=time_entry, reviewer=moderator, decision="duplicate")
    time_entry_review(entry=time_entry, reviewer=moderator, decision="reject", reason="No activity that day.")
    assert TimeEntry.objects.get().status == "rejected" and not LedgerEntry.objects.exists()


@pytest.mark.parametrize(
    "minutes,date,field,code",
    [
        (0, YESTERDAY, "minutes", "invalid"),
        (-30, YESTERDAY, "minutes", "invalid"),
        (24 * 60 + 1, YESTERDAY, "minutes", "over_24h"),
        # fixed at collection: a week ahead stays in the future for a run that crosses midnight
        (60, timezone.localdate() + dt.timedelta(days=7), "date", "future_date"),
        (60, timezone.localdate() - dt.timedelta(days=400), "date", "too_old"),
    ],
)
def test_bad_time_is_refused_with_a_field_message_and_nothing_written(
    artist, program, rate_card, minutes, date, field, code
):
    before = rows()
    with pytest.raises(InvalidInput) as error:
        file_time(artist, program, minutes=minutes, date=date)
    assert (error.value.field, error.value.code) == (field, code)
    assert rows() == before


def test_the_programs_daily_cap_is_a_clear_error(artist, program, moderator):
    make_rate_card(program, daily_time_cap_minutes=12 * 60)
    first = file_time(artist, program, minutes=8 * 60)
    before = rows()
    with pytest.raises(InvalidInput) as error:
        file_time(artist, program, minutes=5 * 60)
    assert error.value.code == "daily_cap" and "12 h" in error.value.message and "240 min more" in error.value.message
    assert rows() == before
    file_time(artist, program, minutes=4 * 60)  # exactly the cap is fine
    # A rejected entry no longer counts against the day.
    time_entry_review(entry=first, reviewer=moderator, decision="reject", reason="Not testing work.")
    file_time(artist, program, minutes=8 * 60)


def test_a_day_has_24_hours_across_programs(artist, program, other_program):
    make_rate_card(program, daily_time_cap_minutes=24 * 60)
    make_rate_card(other_program, daily_time_cap_minutes=24 * 60)
    enroll(artist, other_program)
    file_time(artist, program, minutes=20 * 60)
    with pytest.raises(InvalidInput) as error:
        file_time(artist, other_program, minutes=5 * 60)
    assert error.value.code == "over_24h"


def test_time_may_link_only_the_artists_own_generations(artist, other_artist, program, rate_card):
    mine, theirs = make_job(artist, program), make_job(other_artist, program)
    with pytest.raises(InvalidInput) as error:
        file_time(artist, program, generation_ids=[mine.pk, theirs.pk])
    assert error.value.field == "generations"
    entry = file_time(artist, program, generation_ids=[mine.pk])
    assert list(entry.generations.all()) == [mine]


def test_time_is_proposed_from_generation_sessions(artist, program, rate_card):
    day = timezone.localdate() - dt.timedelta(days=2)
    at = lambda h, m: dt.datetime.combine(day, dt.time(h, m), tzinfo=dt.UTC)  # noqa: E731
    # Session 1: 10:00-10:02, 10:20-10:21 (gap < 30 min) → 10:00 to 10:31 = 31 min.
    a = make_job(artist, program, created_at=at(10, 0), finished_at=at(10, 2))
    b = make_job(artist, program, created_at=at(10, 20), finished_at=at(10, 21))
    # Session 2: 14:00-14:05 → 14:00 to 14:15 = 15 min. Total 46 → 50 (next 5 minutes).
    c = make_job(artist, program, created_at=at(14, 0), finished_at=at(14, 5))
    file_time(artist, program, minutes=20, date=day)
    [proposal] = time_suggestions(artist=artist, program_id=program.pk)
    assert (proposal.date, proposal.minutes, proposal.filed_minutes, proposal.unfiled_minutes) == (day, 50, 20, 30)
    assert proposal.job_ids == [a.pk, b.pk, c.pk]


def test_bulk_accept_accepts_each_and_reports_what_it_skipped(report, time_entry, moderator, artist, program):
    feedback_review(
        report=feedback_submit(artist=artist, program=program, category="bug", severity="low", title="x", body="y"),
        reviewer=moderator,
        decision="reject",
        reason="no",
    )
    done = FeedbackReport.objects.get(status="rejected")
    result = bulk_accept(reviewer=moderator, feedback_ids=[report.pk, done.pk], time_entry_ids=[time_entry.pk])
    assert result["accepted"] == 2 and len(result["skipped"]) == 1
    assert sorted(LedgerEntry.objects.values_list("kind", "amount_minor")) == [
        ("feedback_bounty", 2500),
        ("time", 3750),
    ]


# --- marketing licence -------------------------------------------------------------------


def test_a_marketing_licence_is_paid_once_and_only_with_the_artists_opt_in(
    artist, program, manager, moderator, rate_card
):
    from tester_platform.labour.services import marketing_licence_post

    job = make_job(artist, program)
    with pytest.raises(NotAllowed) as error:
        marketing_licence_post(generation_id=job.pk, actor=manager, program=program)
    assert error.value.code == "no_marketing_consent"
    sign(artist, program, marketing_use=True)
    with pytest.raises(NotAllowed):
        marketing_licence_post(generation_id=job.pk, actor=moderator, program=program)
    entry = marketing_licence_post(generation_id=job.pk, actor=manager, program=program)
    again = marketing_licence_post(generation_id=job.pk, actor=manager, program=program)
    assert entry.pk == again.pk and entry.amount_minor == 2000 and entry.kind == "marketing_licence"
    assert AuditEvent.objects.filter(action="marketing.licensed").count() == 1
