"""Reads for labour: who may review what, review queues, proposed time from metered
activity, and the artist's earnings as the portal and the API show them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet, Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from generation.models import GenerationJob
from payments.models import DEFAULT_DAILY_TIME_CAP_MINUTES, LedgerEntry
from payments.selectors import Balance, balances_for, current_rate_card, ledger_lines
from tester_platform.common.days import day_start, local_day
from tester_platform.labour.models import Assignment, FeedbackReport, PayFloorAssessment, Task, TimeEntry
from tester_platform.policy import Act, can, programs_for
from tester_platform.programs.models import Enrollment, Program

# Enrollments whose holder may file labour: active testers, and those who left (they are
# still owed for work done before leaving). Onboarding and suspended ones may not.
FILING_STATUSES = (Enrollment.Status.ACTIVE, Enrollment.Status.LEFT)


# --- who may do what ---------------------------------------------------------------------


def reviewable_programs(*, user) -> QuerySet[Program]:
    return programs_for(user, Act.REVIEW)


def can_review(*, user, program_id: int) -> bool:
    return can(user, Act.REVIEW, program=program_id)


def can_mark_acted_on(*, user, program_id: int) -> bool:
    """The program owner's side: managers of the program (or an admin)."""
    return can(user, Act.MANAGE, program=program_id)


def programs_for_filing(*, artist) -> QuerySet[Program]:
    return Program.objects.filter(enrollments__artist=artist, enrollments__status__in=FILING_STATUSES).order_by("name")


def feedback_visible_to(*, user) -> QuerySet[FeedbackReport]:
    """One's own reports and those of the programs one reviews; anything else is a 404."""
    return FeedbackReport.objects.filter(Q(artist=user) | Q(program__in=reviewable_programs(user=user))).distinct()


def time_entries_visible_to(*, user) -> QuerySet[TimeEntry]:
    return TimeEntry.objects.filter(Q(artist=user) | Q(program__in=reviewable_programs(user=user))).distinct()


# --- review queues -----------------------------------------------------------------------


def feedback_queue(*, user, program_id: int | None = None) -> QuerySet[FeedbackReport]:
    qs = FeedbackReport.objects.filter(
        program__in=reviewable_programs(user=user), status=FeedbackReport.Status.SUBMITTED
    )
    if program_id:
        qs = qs.filter(program_id=program_id)
    return qs.exclude(artist=user).select_related("program", "artist", "generation").order_by("created_at", "id")


def time_queue(*, user, program_id: int | None = None) -> QuerySet[TimeEntry]:
    qs = TimeEntry.objects.filter(program__in=reviewable_programs(user=user), status=TimeEntry.Status.SUBMITTED)
    if program_id:
        qs = qs.filter(program_id=program_id)
    return (
        qs.exclude(artist=user)
        .select_related("program", "artist")
        .prefetch_related("generations")
        .order_by("date", "id")
    )


def assignment_queue(*, user, program_id: int | None = None) -> QuerySet[Assignment]:
    """Assignments submitted for review in the programs the user reviews (not their own)."""
    qs = Assignment.objects.filter(task__program__in=reviewable_programs(user=user), status=Assignment.Status.SUBMITTED)
    if program_id:
        qs = qs.filter(task__program_id=program_id)
    return (
        qs.exclude(artist=user)
        .select_related("task", "task__program", "artist", "ledger_entry")
        .prefetch_related("generations", "findings__attachments")
        .order_by("submitted_at", "id")
    )


def with_progress(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """Tasks annotated with how many of their assignments are in each state, and `taken`
    (those holding a place)."""
    counts = {
        status: Count("assignments", filter=Q(assignments__status=status), distinct=True)
        for status in Assignment.Status.values
    }
    return tasks.annotate(
        **counts,
        taken=Count("assignments", filter=Q(assignments__status__in=Assignment.HOLDING_CAPACITY), distinct=True),
    )


def task_queue(*, user, program_id: int | None = None) -> QuerySet[Task]:
    """The tasks of the programs the user reviews, open ones first, with their progress."""
    qs = Task.objects.filter(program__in=reviewable_programs(user=user))
    if program_id:
        qs = qs.filter(program_id=program_id)
    return with_progress(qs).select_related("program").order_by("-status", "due_at", "id")  # "open" > "closed"


def tasks_offered(*, artist) -> QuerySet[Task]:
    """Open, not yet due tasks of the artist's active programs, for everyone or for them."""
    programs = Enrollment.objects.filter(artist=artist, status=Enrollment.Status.ACTIVE).values("program_id")
    return (
        with_progress(
            Task.objects.filter(program_id__in=programs, status=Task.Status.OPEN, due_at__gt=timezone.now())
            .filter(Q(invited__isnull=True) | Q(invited=artist))
            .exclude(assignments__artist=artist)
            .distinct()
        )
        .select_related("program")
        .order_by("due_at", "id")
    )


def accepted_not_acted_on(*, user, program_id: int | None = None) -> QuerySet[FeedbackReport]:
    qs = FeedbackReport.objects.filter(
        program__in=reviewable_programs(user=user), status=FeedbackReport.Status.ACCEPTED, acted_on_at__isnull=True
    )
    if program_id:
        qs = qs.filter(program_id=program_id)
    return qs.select_related("program", "artist").order_by("-reviewed_at")[:50]


# --- time --------------------------------------------------------------------------------


def daily_cap_minutes(*, program_id: int) -> int:
    card = current_rate_card(program_id=program_id)
    return card.daily_time_cap_minutes if card is not None else DEFAULT_DAILY_TIME_CAP_MINUTES


def minutes_filed(*, artist, day: dt.date, program_id: int | None = None) -> int:
    """Minutes counting against the day's caps: everything not rejected."""
    qs = TimeEntry.objects.filter(artist=artist, date=day).exclude(status=TimeEntry.Status.REJECTED)
    if program_id is not None:
        qs = qs.filter(program_id=program_id)
    return qs.aggregate(total=Sum("minutes"))["total"] or 0


# A session is a run of generations less than SESSION_GAP apart; each job counts from its
# submission until REVIEW_ALLOWANCE after it finished (watching and judging the output).
SESSION_GAP = dt.timedelta(minutes=30)
REVIEW_ALLOWANCE = dt.timedelta(minutes=10)
SUGGESTION_STEP_MINUTES = 5


@dataclass
class TimeSuggestion:
    date: dt.date
    minutes: int
    filed_minutes: int
    job_ids: list[int] = field(default_factory=list)

    @property
    def unfiled_minutes(self) -> int:
        return max(0, self.minutes - self.filed_minutes)

    @property
    def jobs(self) -> int:
        return len(self.job_ids)

    def as_dict(self) -> dict:
        return {
            "date": self.date,
            "minutes": self.minutes,
            "filed_minutes": self.filed_minutes,
            "unfiled_minutes": self.unfiled_minutes,
            "generations": self.job_ids,
        }


def time_suggestions(*, artist, program_id: int, days: int = 14, today: dt.date | None = None) -> list[TimeSuggestion]:
    """Proposed minutes per day from the artist's metered generation activity, newest day
    first, so artists need not guess. A proposal, never a claim: they may file less or
    more (within the caps)."""
    today = today or local_day()
    first_day = today - dt.timedelta(days=days - 1)
    since = day_start(first_day)
    jobs = (
        GenerationJob.objects.filter(artist=artist, program_id=program_id, created_at__gte=since)
        .order_by("created_at")
        .values_list("id", "created_at", "started_at", "finished_at")
    )
    per_day: dict[dt.date, list[tuple[int, dt.datetime, dt.datetime]]] = {}
    for job_id, created, started, finished in jobs:
        end = (finished or started or created) + REVIEW_ALLOWANCE
        per_day.setdefault(local_day(created), []).append((job_id, created, end))
    cap = daily_cap_minutes(program_id=program_id)
    filed = dict(
        TimeEntry.objects.filter(artist=artist, program_id=program_id, date__gte=first_day)
        .exclude(status=TimeEntry.Status.REJECTED)
        .values("date")
        .annotate(total=Sum("minutes"))
        .values_list("date", "total")
    )
    suggestions = []
    for day, spans in sorted(per_day.items(), reverse=True):
        total = dt.timedelta(0)
        session_start, session_end = spans[0][1], spans[0][2]
        for _, start, end in spans[1:]:
            if start <= session_end + SESSION_GAP:
                session_end = max(session_end, end)
            else:
                total += session_end - session_start
                session_start, session_end = start, end
        total += session_end - session_start
        # Whole minutes, rounded up to the next step (timedelta // timedelta is an int).
        minutes = -(-total // dt.timedelta(minutes=1))
        minutes = -(-minutes // SUGGESTION_STEP_MINUTES) * SUGGESTION_STEP_MINUTES
        suggestions.append(
            TimeSuggestion(
                date=day,
                minutes=min(minutes, cap),
                filed_minutes=filed.get(day, 0),
                job_ids=[job_id for job_id, _, _ in spans],
            )
        )
    return suggestions


# --- earnings ----------------------------------------------------------------------------

DEFAULT_CURRENCY = "EUR"


def source_url(entry: LedgerEntry) -> str | None:
    """Where the artist can see what caused an entry."""
    try:
        if entry.source_type == FeedbackReport.SOURCE_TYPE:
            return reverse("labour:feedback_detail", args=[int(entry.source_id)])
        if entry.source_type == TimeEntry.SOURCE_TYPE:
            return reverse("labour:time_detail", args=[int(entry.source_id)])
        if entry.source_type == "sharing.sharerequest":
            return reverse("sharing:detail", args=[int(entry.source_id)])
        if entry.source_type == "generation.generationjob":
            return reverse("studio:detail", args=[int(entry.source_id)])
    except (NoReverseMatch, ValueError):
        return None
    return None


@dataclass
class Earnings:
    currency: str
    balance: Balance
    balances: list[Balance]
    lines: list[LedgerEntry]


def earnings_for(*, artist) -> Earnings:
    """Balance and every ledger line, each with `url` (its source) set."""
    balances = balances_for(artist=artist)
    lines = list(ledger_lines(artist=artist))
    if balances:
        # The currency the artist earns most lines in leads; the others are listed too.
        counts: dict[str, int] = {}
        for line in lines:
            counts[line.currency] = counts.get(line.currency, 0) + 1
        currency = max(balances, key=lambda b: (counts.get(b.currency, 0), b.currency)).currency
    else:
        currency = _artist_currency(artist)
    balance = next(
        (b for b in balances if b.currency == currency), Balance(currency=currency, earned=0, paid=0, unpaid=0)
    )
    for line in lines:
        line.url = source_url(line)
    return Earnings(currency=currency, balance=balance, balances=balances, lines=lines)


def _artist_currency(artist) -> str:
    program = programs_for_filing(artist=artist).first()
    card = current_rate_card(program_id=program.pk) if program else None
    return card.currency if card else DEFAULT_CURRENCY


def weekly_earnings(
    *, lines: list[LedgerEntry], currency: str, weeks: int = 12, today: dt.date | None = None
) -> list[tuple[dt.date, int]]:
    """Earnings (payouts excluded) per ISO week, oldest first, for the chart: (monday, minor)."""
    today = today or local_day()
    this_monday = today - dt.timedelta(days=today.weekday())
    mondays = [this_monday - dt.timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    totals = {monday: 0 for monday in mondays}
    for line in lines:
        if line.currency != currency or line.kind == LedgerEntry.Kind.PAYOUT:
            continue
        if line.kind == LedgerEntry.Kind.REVERSAL and line.amount_minor > 0:
            continue  # a returned payout is not an earning
        day = local_day(line.created_at)
        monday = day - dt.timedelta(days=day.weekday())
        if monday in totals:
            totals[monday] += line.amount_minor
    return [(monday, totals[monday]) for monday in mondays]


def pay_floor_assessments_for(*, artist) -> QuerySet[PayFloorAssessment]:
    return PayFloorAssessment.objects.filter(artist=artist).select_related("program").order_by("-period_start")
