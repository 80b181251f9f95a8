"""Write paths for testing labour: filing feedback and time, reviewing them, marking
reports acted on, and the pay floor. Each state transition locks its row, checks the
state (InvalidTransition → 409), audits, and — on acceptance — posts to the payments
engine's ledger at the program's current published rate card, in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from generation.models import GenerationJob
from payments.ledger import floor_target_minor, ledger_post, time_amount_minor
from payments.models import LedgerEntry, RateCard, Severity
from payments.selectors import current_rate_card, ledger_sum
from tester_platform.audit.services import audit_record
from tester_platform.common.days import day_start, local_day
from tester_platform.errors import Conflict, DomainError, InvalidInput, InvalidTransition, NotAllowed
from tester_platform.labour.models import MINUTES_PER_DAY, Assignment, FeedbackReport, PayFloorAssessment, TimeEntry
from tester_platform.labour.selectors import (
    FILING_STATUSES,
    daily_cap_minutes,
    minutes_filed,
)
from tester_platform.notifications.models import Kind
from tester_platform.notifications.services import notify
from tester_platform.policy import Act, authorize
from tester_platform.programs.models import Enrollment, Program

MAX_TIME_ENTRY_AGE_DAYS = 90
ACCEPT, REJECT, DUPLICATE = "accept", "reject", "duplicate"


class NotEnrolled(NotAllowed):
    code = "not_enrolled"


class NoRateCard(Conflict):
    code = "no_rate_card"


class AlreadyReviewed(InvalidTransition):
    code = "already_reviewed"


def _require_filer(*, artist, program: Program) -> None:
    enrollment = Enrollment.objects.filter(artist=artist, program=program).first()
    if enrollment is None or enrollment.status not in FILING_STATUSES:
        raise NotEnrolled("You are not a tester of this program.", field="program")


def _text(value, *, field: str, max_length: int, label: str) -> str:
    value = (value or "").strip() if isinstance(value, str) else ""
    if not value:
        raise InvalidInput(f"Write a {label}.", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"Keep the {label} under {max_length} characters.", field=field)
    return value


def _choice(value, *, choices, field: str) -> str:
    if value not in choices.values:
        raise InvalidInput(f"Choose one of: {', '.join(choices.values)}.", field=field)
    return value


# --- filing ------------------------------------------------------------------------------


@transaction.atomic
def feedback_submit(
    *,
    artist,
    program: Program,
    category: str,
    severity: str,
    title: str,
    body: str,
    generation_id: int | None = None,
    generation_ids: Iterable[int] = (),
    attachments: Sequence[tuple[str, bytes]] = (),
    assignment=None,
) -> FeedbackReport:
    """File a report; with evidence (`attachments`: (file name, bytes), each proven a still
    or a short clip before anything is stored) and more linked generations."""
    from tester_platform.labour.findings import check_attachments, store_attachments

    _require_filer(artist=artist, program=program)
    category = _choice(category, choices=FeedbackReport.Category, field="category")
    severity = _choice(severity, choices=Severity, field="severity")
    title = _text(title, field="title", max_length=200, label="title")
    body = _text(body, field="body", max_length=10_000, label="description of what you found")
    generation = None
    if generation_id is not None:
        # Another artist's output, or one of another program, is simply not found.
        generation = GenerationJob.objects.filter(pk=generation_id, artist=artist, program=program).first()
        if generation is None:
            raise InvalidInput(
                "No such generation among your outputs in this program.", field="generation", code="not_your_generation"
            )
    linked = sorted(set(generation_ids or ()) - {generation_id})
    jobs = list(GenerationJob.objects.filter(pk__in=linked, artist=artist, program=program)) if linked else []
    if len(jobs) != len(linked):
        raise InvalidInput(
            "Link only your own generations in this program.", field="generations", code="not_your_generation"
        )
    evidence = check_attachments(attachments)
    if assignment is not None:
        from tester_platform.labour.assignments import assignment_for_finding

        assignment = assignment_for_finding(
            assignment_id=getattr(assignment, "pk", assignment), artist=artist, program=program
        )
    report = FeedbackReport.objects.create(
        program=program,
        artist=artist,
        generation=generation,
        category=category,
        severity=severity,
        title=title,
        body=body,
        **({"assignment": assignment} if assignment is not None else {}),
    )
    if jobs:
        report.generations.set(jobs)
    stored = store_attachments(report=report, evidence=evidence)
    audit_record(
        action="feedback.submitted",
        actor=artist,
        subject=artist,
        program=program,
        target=report,
        data={
            "category": category,
            "severity": severity,
            "generation": generation_id,
            "generations": linked,
            "attachments": [a.pk for a in stored],
            **({"assignment": assignment.pk} if assignment is not None else {}),
        },
    )
    return report


@transaction.atomic
def time_entry_submit(
    *,
    artist,
    program: Program,
    date: dt.date,
    minutes: int,
    description: str,
    generation_ids: Iterable[int] = (),
    today: dt.date | None = None,
) -> TimeEntry:
    _require_filer(artist=artist, program=program)
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
        raise InvalidInput("Enter the time as a positive number of minutes.", field="minutes")
    if minutes > MINUTES_PER_DAY:
        raise InvalidInput(
            "A day has 24 hours (1440 minutes); one entry cannot be longer.", field="minutes", code="over_24h"
        )
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        raise InvalidInput("Enter the date as YYYY-MM-DD.", field="date")
    today = today or local_day()
    if date > today:
        raise InvalidInput(
            "Time cannot be filed for a day that has not happened yet.", field="date", code="future_date"
        )
    if date < today - dt.timedelta(days=MAX_TIME_ENTRY_AGE_DAYS):
        raise InvalidInput(
            f"File time within {MAX_TIME_ENTRY_AGE_DAYS} days of the work.", field="date", code="too_old"
        )
    description = _text(description, field="description", max_length=4000, label="description of the work")
    wanted = sorted(set(generation_ids or ()))
    jobs = list(GenerationJob.objects.filter(pk__in=wanted, artist=artist, program=program)) if wanted else []
    if len(jobs) != len(wanted):
        raise InvalidInput(
            "Link only your own generations in this program.", field="generations", code="not_your_generation"
        )

    # Lock the artist's row: two entries filed at once must not both pass the daily caps.
    get_user_model().objects.select_for_update().filter(pk=artist.pk).first()
    cap = daily_cap_minutes(program_id=program.pk)
    in_program = minutes_filed(artist=artist, day=date, program_id=program.pk)
    if in_program + minutes > cap:
        hours, rest = divmod(cap, 60)
        raise InvalidInput(
            f"{program.name} accepts at most {hours} h{f' {rest} min' if rest else ''} of testing a day; "
            f"you have already filed {in_program} min for {date.isoformat()}, so at most "
            f"{max(0, cap - in_program)} min more.",
            field="minutes",
            code="daily_cap",
        )
    everywhere = minutes_filed(artist=artist, day=date)
    if everywhere + minutes > MINUTES_PER_DAY:
        raise InvalidInput(
            f"That would make more than 24 hours on {date.isoformat()} across your programs "
            f"({everywhere} min already filed).",
            field="minutes",
            code="over_24h",
        )
    entry = TimeEntry.objects.create(
        program=program, artist=artist, date=date, minutes=minutes, description=description
    )
    if jobs:
        entry.generations.set(jobs)
    audit_record(
        action="time.submitted",
        actor=artist,
        subject=artist,
        program=program,
        target=entry,
        data={"date": date.isoformat(), "minutes": minutes, "generations": wanted},
    )
    return entry


# --- reviewing ---------------------------------------------------------------------------


def _require_reviewer(*, reviewer, program_id: int, artist_id: int) -> None:
    authorize(reviewer, Act.REVIEW, program=program_id, subject=artist_id)


def _rate_card_for_acceptance(program_id: int) -> RateCard:
    card = current_rate_card(program_id=program_id)
    if card is None:
        raise NoRateCard("This program has no published rate card, so work cannot be accepted (and paid) yet.")
    return card


@transaction.atomic
def feedback_review(
    *, report: FeedbackReport, reviewer, decision: str, reason: str = "", duplicate_of_id: int | None = None
) -> FeedbackReport:
    """Accept (posts the bounty for its severity), reject (with a reason), or mark as a
    duplicate of another report of the program. Once only: a second review of the same
    report — a double click, a second reviewer, a retried request — is a 409 and posts
    nothing, because the row lock makes it see the first decision."""
    report = FeedbackReport.objects.select_for_update().get(pk=report.pk)
    _require_reviewer(reviewer=reviewer, program_id=report.program_id, artist_id=report.artist_id)
    if decision not in (ACCEPT, REJECT, DUPLICATE):
        raise InvalidInput("Decide accept, reject or duplicate.", field="decision")
    if report.status != FeedbackReport.Status.SUBMITTED:
        raise AlreadyReviewed(f"This report was already reviewed ({report.get_status_display().lower()}).")
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise InvalidInput("Keep the reason under 2000 characters.", field="reason")
    original = None
    card = None
    if decision == REJECT and not reason:
        raise InvalidInput("Give the artist a reason when rejecting.", field="reason")
    if decision == DUPLICATE:
        original = (
            FeedbackReport.objects.filter(pk=duplicate_of_id, program_id=report.program_id)
            .exclude(pk=report.pk)
            .first()
            if isinstance(duplicate_of_id, int)
            else None
        )
        if original is None:
            raise InvalidInput(
                "Name the earlier report of this program that this one duplicates.", field="duplicate_of"
            )
        if (original.created_at, original.pk) > (report.created_at, report.pk):
            # The credit goes to whoever reported it first: merge the later report into the earlier.
            raise InvalidInput(
                f"Report #{original.pk} was filed after this one; the first report keeps the credit, "
                f"so mark #{original.pk} as the duplicate of #{report.pk} instead.",
                field="duplicate_of",
                code="later_original",
            )
        if original.status == FeedbackReport.Status.DUPLICATE and original.duplicate_of_id:
            original = original.duplicate_of  # merge into the first report of the chain
        reason = reason or f"Duplicate of report #{original.pk}."
    if decision == ACCEPT:
        card = _rate_card_for_acceptance(report.program_id)

    report.status = {
        ACCEPT: FeedbackReport.Status.ACCEPTED,
        REJECT: FeedbackReport.Status.REJECTED,
        DUPLICATE: FeedbackReport.Status.DUPLICATE,
    }[decision]
    report.reviewed_by, report.reviewed_at, report.reason, report.duplicate_of = (
        reviewer,
        timezone.now(),
        reason,
        original,
    )
    report.save(update_fields=["status", "reviewed_by", "reviewed_at", "reason", "duplicate_of"])
    entry = None
    if card is not None:
        bounty = card.bounty_for(report.severity)
        if bounty:
            entry = ledger_post(
                artist=report.artist_id,
                program_id=report.program_id,
                kind=LedgerEntry.Kind.FEEDBACK_BOUNTY,
                amount_minor=bounty,
                currency=card.currency,
                source=(FeedbackReport.SOURCE_TYPE, report.pk),
                rate_card=card,
                rate_minor=bounty,
                rate_basis=LedgerEntry.RateBasis.PER_ITEM,
                quantity=1,
                created_by=reviewer,
                source_label=report.label,
                memo=f"{report.get_severity_display()} severity",
            )
    audit_record(
        action=f"feedback.{report.status}",
        actor=reviewer,
        subject=report.artist,
        program=report.program,
        target=report,
        data={
            "reason": reason,
            "duplicate_of": original.pk if original else None,
            "ledger_entry": entry.pk if entry else None,
            "amount_minor": entry.amount_minor if entry else 0,
            "currency": card.currency if card else None,
            "rate_card_version": card.version if card else None,
        },
    )
    _tell_reviewed(report, entry)
    return report


@transaction.atomic
def time_entry_review(*, entry: TimeEntry, reviewer, decision: str, reason: str = "") -> TimeEntry:
    """Accept (posts hourly rate × minutes) or reject (with a reason), once."""
    entry = TimeEntry.objects.select_for_update().get(pk=entry.pk)
    _require_reviewer(reviewer=reviewer, program_id=entry.program_id, artist_id=entry.artist_id)
    if decision not in (ACCEPT, REJECT):
        raise InvalidInput("Decide accept or reject.", field="decision")
    if entry.status != TimeEntry.Status.SUBMITTED:
        raise AlreadyReviewed(f"This time entry was already reviewed ({entry.get_status_display().lower()}).")
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise InvalidInput("Keep the reason under 2000 characters.", field="reason")
    if decision == REJECT and not reason:
        raise InvalidInput("Give the artist a reason when rejecting.", field="reason")
    card = _rate_card_for_acceptance(entry.program_id) if decision == ACCEPT else None

    entry.status = TimeEntry.Status.ACCEPTED if decision == ACCEPT else TimeEntry.Status.REJECTED
    entry.reviewed_by, entry.reviewed_at, entry.reason = reviewer, timezone.now(), reason
    entry.save(update_fields=["status", "reviewed_by", "reviewed_at", "reason"])
    posted = None
    if card is not None:
        amount = time_amount_minor(hourly_rate_minor=card.hourly_rate_minor, minutes=entry.minutes)
        if amount:
            posted = ledger_post(
                artist=entry.artist_id,
                program_id=entry.program_id,
                kind=LedgerEntry.Kind.TIME,
                amount_minor=amount,
                currency=card.currency,
                source=(TimeEntry.SOURCE_TYPE, entry.pk),
                rate_card=card,
                rate_minor=card.hourly_rate_minor,
                rate_basis=LedgerEntry.RateBasis.PER_HOUR,
                quantity=entry.minutes,
                created_by=reviewer,
                source_label=entry.label,
            )
    audit_record(
        action=f"time.{entry.status}",
        actor=reviewer,
        subject=entry.artist,
        program=entry.program,
        target=entry,
        data={
            "reason": reason,
            "minutes": entry.minutes,
            "ledger_entry": posted.pk if posted else None,
            "amount_minor": posted.amount_minor if posted else 0,
            "currency": card.currency if card else None,
            "rate_card_version": card.version if card else None,
        },
    )
    _tell_reviewed(entry, posted)
    return entry


def _tell_reviewed(item, posted: LedgerEntry | None) -> None:
    """The artist hears every review decision, with the reason and what it earned."""
    is_report = isinstance(item, FeedbackReport)
    noun = (
        f"report #{item.pk} “{item.title}”"
        if is_report
        else f"time entry #{item.pk} ({item.minutes} min on {item.date.isoformat()})"
    )
    outcome = item.get_status_display().lower()
    lines = [f"Your {noun} was {outcome}."]
    if is_report and item.status == FeedbackReport.Status.DUPLICATE and item.duplicate_of_id:
        lines.append(
            f"It duplicates report #{item.duplicate_of_id}, filed earlier; the credit goes to the first report."
        )
    if item.reason:
        lines.append(f"Reason: {item.reason}")
    if posted is not None:
        lines.append(f"Earned: {posted.amount_display} ({posted.rate_display}).")
    link = (
        reverse("labour:feedback_detail", args=[item.pk])
        if is_report
        else reverse("labour:time_detail", args=[item.pk])
    )
    notify(
        user=item.artist,
        kind=Kind.FEEDBACK_REVIEWED if is_report else Kind.TIME_REVIEWED,
        title=f"{'Report' if is_report else 'Time entry'} #{item.pk}: {outcome}",
        body="\n".join(lines),
        program=item.program,
        link=link,
    )


def bulk_accept(*, reviewer, feedback_ids: Iterable[int] = (), time_entry_ids: Iterable[int] = ()) -> dict:
    """Accept many items, each in its own transaction (one bad item does not undo the
    others). Returns {"accepted": n, "skipped": [(label, message)]}."""
    accepted, skipped = 0, []
    for report in FeedbackReport.objects.filter(pk__in=list(feedback_ids)).order_by("id"):
        try:
            feedback_review(report=report, reviewer=reviewer, decision=ACCEPT)
            accepted += 1
        except DomainError as error:
            skipped.append((report.label, error.message))
    for entry in TimeEntry.objects.filter(pk__in=list(time_entry_ids)).order_by("id"):
        try:
            time_entry_review(entry=entry, reviewer=reviewer, decision=ACCEPT)
            accepted += 1
        except DomainError as error:
            skipped.append((entry.label, error.message))
    return {"accepted": accepted, "skipped": skipped}


@transaction.atomic
def feedback_mark_acted_on(*, report: FeedbackReport, actor, note: str = "") -> FeedbackReport:
    """The program owner did something about an accepted report; the artist sees it."""
    report = FeedbackReport.objects.select_for_update().get(pk=report.pk)
    authorize(actor, Act.MANAGE, program=report.program_id)
    if report.status != FeedbackReport.Status.ACCEPTED:
        raise InvalidTransition("Only an accepted report can be marked as acted on.")
    if report.acted_on_at is not None:
        raise InvalidTransition("This report is already marked as acted on.")
    note = (note or "").strip()
    if len(note) > 2000:
        raise InvalidInput("Keep the note under 2000 characters.", field="note")
    report.acted_on_at, report.acted_on_by, report.acted_on_note = timezone.now(), actor, note
    report.save(update_fields=["acted_on_at", "acted_on_by", "acted_on_note"])
    audit_record(
        action="feedback.acted_on",
        actor=actor,
        subject=report.artist,
        program=report.program,
        target=report,
        data={"note": note},
    )
    return report


# --- marketing licence ------------------------------------------------------------------


@transaction.atomic
def marketing_licence_post(*, generation_id: int, actor, program: Program) -> LedgerEntry:
    """The program used an artist's output in its marketing: pay the rate card's licence
    fee, once per output. Only with the artist's marketing opt-in in force now (consent
    is checked at use, so a withdrawn opt-in refuses it)."""
    from tester_platform.consent.services import active_consent

    authorize(actor, Act.MANAGE, program=program)
    job = GenerationJob.objects.select_related("artist").filter(pk=generation_id, program=program).first()
    if job is None:
        raise InvalidInput("No such generation in this program.", field="generation")
    if job.status != GenerationJob.Status.SUCCEEDED:
        raise InvalidInput("Only a finished output can be used in marketing.", field="generation")
    authorize(actor, Act.MANAGE, program=program, subject=job.artist)  # never one's own output
    consent = active_consent(artist=job.artist, program=program)
    if consent is None or not consent.marketing_use:
        raise NotAllowed(
            "The artist has not opted in to marketing use of their outputs.",
            field="generation",
            code="no_marketing_consent",
        )
    card = _rate_card_for_acceptance(program.pk)
    if not card.marketing_licence_minor:
        raise NoRateCard("This program's rate card sets no marketing licence fee; publish one first.")
    entry = ledger_post(
        artist=job.artist_id,
        program_id=program.pk,
        kind=LedgerEntry.Kind.MARKETING_LICENCE,
        amount_minor=card.marketing_licence_minor,
        currency=card.currency,
        source=("generation.generationjob", job.pk),
        rate_card=card,
        rate_minor=card.marketing_licence_minor,
        rate_basis=LedgerEntry.RateBasis.PER_ITEM,
        quantity=1,
        created_by=actor,
        source_label=f"Marketing use of generation #{job.pk}",
    )
    if entry.created:
        audit_record(
            action="marketing.licensed",
            actor=actor,
            subject=job.artist,
            program=program,
            target=job,
            data={
                "ledger_entry": entry.pk,
                "amount_minor": entry.amount_minor,
                "currency": entry.currency,
                "consent_record": consent.pk,
            },
        )
    return entry


# --- pay floor ---------------------------------------------------------------------------

# What the floor compares: pay for the testing work itself. Share bonuses and marketing
# licence fees pay for the use of outputs, not for labour, so they never fill the floor.
FLOOR_COUNTED_KINDS = (LedgerEntry.Kind.TIME, LedgerEntry.Kind.FEEDBACK_BOUNTY)


def iso_week(week: str | dt.date) -> tuple[str, dt.date, dt.date]:
    """("2026-W14", monday, next monday) for "2026-W14" or any date inside that week."""
    if isinstance(week, str):
        try:
            year, number = week.upper().split("-W")
            monday = dt.date.fromisocalendar(int(year), int(number), 1)
        except ValueError:
            raise InvalidInput("Give the week as YYYY-Www, e.g. 2026-W14.", field="week") from None
    else:
        monday = week - dt.timedelta(days=week.weekday())
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}", monday, monday + dt.timedelta(days=7)


def previous_week(now: dt.datetime | None = None) -> str:
    today = local_day(now)
    return iso_week(today - dt.timedelta(days=7))[0]


@transaction.atomic
def pay_floor_assess(
    *, artist_id: int, program_id: int, week: str | dt.date, now: dt.datetime | None = None
) -> PayFloorAssessment | None:
    """Compare what the artist earned for the work accepted in one closed ISO week with
    the program's floor over that accepted time, and post the difference as a top-up.

    Both sides are measured by acceptance time (entries posted and time accepted in the
    week), so work accepted after a week was assessed counts in the week it was accepted
    and is never skipped. Idempotent: the assessment row is unique per artist, program and
    week, and its top-up posts once per assessment; a second run returns the first row.
    None when there is nothing to assess (no accepted time, or no rate card)."""
    key, start, end = iso_week(week)
    if day_start(end) > (now or timezone.now()):
        raise InvalidInput(f"Week {key} is not over yet; the floor is assessed on closed weeks.", field="week")
    existing = PayFloorAssessment.objects.filter(artist_id=artist_id, program_id=program_id, period_key=key).first()
    if existing is not None:
        existing.created = False
        return existing
    card = current_rate_card(program_id=program_id)
    if card is None:
        return None
    minutes = (
        TimeEntry.objects.filter(
            artist_id=artist_id,
            program_id=program_id,
            status=TimeEntry.Status.ACCEPTED,
            reviewed_at__gte=day_start(start),
            reviewed_at__lt=day_start(end),
        ).aggregate(total=Sum("minutes"))["total"]
        or 0
    )
    # Accepted assignments are testing work too: the minutes their pay stands for count.
    minutes += (
        Assignment.objects.filter(
            artist_id=artist_id,
            task__program_id=program_id,
            status=Assignment.Status.ACCEPTED,
            reviewed_at__gte=day_start(start),
            reviewed_at__lt=day_start(end),
        ).aggregate(total=Sum("paid_minutes"))["total"]
        or 0
    )
    if minutes == 0:
        return None
    earned = ledger_sum(
        artist=artist_id,
        program_id=program_id,
        currency=card.currency,
        kinds=FLOOR_COUNTED_KINDS,
        start=day_start(start),
        end=day_start(end),
    )
    target = floor_target_minor(floor_hourly_minor=card.pay_floor_hourly_minor, minutes=minutes)
    topup = max(0, target - earned)
    try:
        with transaction.atomic():
            assessment = PayFloorAssessment.objects.create(
                artist_id=artist_id,
                program_id=program_id,
                period_key=key,
                period_start=start,
                period_end=end,
                accepted_minutes=minutes,
                earned_minor=earned,
                floor_hourly_minor=card.pay_floor_hourly_minor,
                target_minor=target,
                topup_minor=topup,
                currency=card.currency,
                rate_card=card,
            )
    except IntegrityError:  # a concurrent run assessed it first
        existing = PayFloorAssessment.objects.get(artist_id=artist_id, program_id=program_id, period_key=key)
        existing.created = False
        return existing
    if topup:
        assessment.ledger_entry = ledger_post(
            artist=artist_id,
            program_id=program_id,
            kind=LedgerEntry.Kind.PAY_FLOOR_TOPUP,
            amount_minor=topup,
            currency=card.currency,
            source=(PayFloorAssessment.SOURCE_TYPE, assessment.pk),
            rate_card=card,
            rate_minor=card.pay_floor_hourly_minor,
            rate_basis=LedgerEntry.RateBasis.FLOOR_PER_HOUR,
            quantity=minutes,
            source_label=assessment.label,
            memo=f"Earned {earned} for {minutes} min; floor total {target}.",
        )
        assessment.save(update_fields=["ledger_entry"])
    audit_record(
        action="pay_floor.assessed",
        subject=assessment.artist,
        program=assessment.program,
        target=assessment,
        data={
            "week": key,
            "minutes": minutes,
            "earned_minor": earned,
            "target_minor": target,
            "topup_minor": topup,
            "currency": card.currency,
        },
    )
    assessment.created = True
    return assessment


def pay_floor_run(
    *, week: str | dt.date | None = None, program_id: int | None = None, now: dt.datetime | None = None
) -> list[PayFloorAssessment]:
    """Assess every artist with time accepted in the week (default: last ISO week), each
    in its own transaction. Safe to run any number of times."""
    key, start, end = iso_week(week or previous_week(now))
    pairs = (
        TimeEntry.objects.filter(
            status=TimeEntry.Status.ACCEPTED, reviewed_at__gte=day_start(start), reviewed_at__lt=day_start(end)
        )
        .values_list("artist_id", "program_id")
        .distinct()
        .order_by("program_id", "artist_id")
    )
    tasks = (
        Assignment.objects.filter(
            status=Assignment.Status.ACCEPTED, reviewed_at__gte=day_start(start), reviewed_at__lt=day_start(end)
        )
        .values_list("artist_id", "task__program_id")
        .distinct()
    )
    if program_id is not None:
        pairs = pairs.filter(program_id=program_id)
        tasks = tasks.filter(task__program_id=program_id)
    results = []
    for artist_id, pid in sorted(set(pairs) | set(tasks), key=lambda pair: (pair[1], pair[0])):
        assessment = pay_floor_assess(artist_id=artist_id, program_id=pid, week=key, now=now)
        if assessment is not None:
            results.append(assessment)
    return results
