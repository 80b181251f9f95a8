"""Assignments: managers publish tasks, artists take them on, work, and submit them with
findings; a moderator accepts (the pay posts once) or returns them with a reason.

Each transition locks its row, checks the state, audits and tells the artist. Pay is a
ledger line of kind "time" (testing work, which the pay floor counts, with the minutes it
stands for): hourly tasks at the program's current hourly rate × the minutes worked, fixed
tasks at their price for their estimated minutes. Its source is the assignment, so a
second acceptance, a double click or a retried request posts nothing more."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from generation.models import GenerationJob
from payments.ledger import ledger_post, time_amount_minor
from payments.models import LedgerEntry
from payments.money import format_minor
from payments.selectors import current_rate_card
from tester_platform.audit.services import audit_record
from tester_platform.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from tester_platform.labour.models import MINUTES_PER_DAY, Assignment, FeedbackReport, Task
from tester_platform.labour.selectors import FILING_STATUSES
from tester_platform.notifications.models import Kind
from tester_platform.notifications.services import notify, notify_many
from tester_platform.policy import Act, authorize, can
from tester_platform.programs.models import Enrollment, Program

ACCEPT, RETURN = "accept", "return"


class TaskFull(Conflict):
    code = "task_full"


class TaskClosed(Conflict):
    code = "task_closed"


def _text(value, *, field: str, max_length: int, label: str, required: bool = True) -> str:
    value = (value or "").strip() if isinstance(value, str) else ""
    if required and not value:
        raise InvalidInput(f"Write the {label}.", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"Keep the {label} under {max_length} characters.", field=field)
    return value


def _whole(value, *, field: str, low: int, high: int, label: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInput(f"The {label} is a whole number from {low} to {high}.", field=field)
    return value


def _testers(program: Program):
    return (
        get_user_model()
        .objects.filter(enrollments__program=program, enrollments__status__in=FILING_STATUSES)
        .distinct()
    )


# --- managers ----------------------------------------------------------------------------


@transaction.atomic
def task_publish(
    *,
    program: Program,
    actor,
    title: str,
    instructions: str,
    category: str,
    estimated_minutes: int,
    pay: str,
    capacity: int,
    due_at: dt.datetime,
    fixed_pay_minor: int | None = None,
    invited_ids: Iterable[int] = (),
) -> Task:
    authorize(actor, Act.MANAGE, program=program)
    title = _text(title, field="title", max_length=200, label="title")
    instructions = _text(instructions, field="instructions", max_length=20_000, label="instructions")
    if category not in Task.Category.values:
        raise InvalidInput(f"Choose one of: {', '.join(Task.Category.values)}.", field="category")
    estimated_minutes = _whole(
        estimated_minutes, field="estimated_minutes", low=1, high=MINUTES_PER_DAY, label="estimate in minutes"
    )
    capacity = _whole(capacity, field="capacity", low=1, high=10_000, label="number of testers")
    if pay not in Task.Pay.values:
        raise InvalidInput("Pay is fixed per task or hourly.", field="pay")
    card = current_rate_card(program_id=program.pk)
    if card is None:
        raise Conflict("Publish a rate card first: it sets the currency and the hourly rate.", code="no_rate_card")
    if pay == Task.Pay.FIXED:
        fixed_pay_minor = _whole(fixed_pay_minor, field="fixed_pay_minor", low=1, high=10**9, label="fixed pay")
    else:
        fixed_pay_minor = None
    if not isinstance(due_at, dt.datetime) or due_at <= timezone.now():
        raise InvalidInput("The due date is in the future.", field="due_at")
    wanted = sorted(set(invited_ids or ()))
    invited = list(_testers(program).filter(pk__in=wanted))
    if len(invited) != len(wanted):
        raise InvalidInput("Choose testers of this program.", field="invited")
    if any(person.pk == actor.pk for person in invited):
        raise InvalidInput("You cannot publish a task to yourself.", field="invited", code="self_dealing")
    task = Task.objects.create(
        program=program,
        title=title,
        instructions=instructions,
        category=category,
        estimated_minutes=estimated_minutes,
        pay=pay,
        fixed_pay_minor=fixed_pay_minor,
        currency=card.currency,
        capacity=capacity,
        due_at=due_at,
        created_by=actor,
    )
    if invited:
        task.invited.set(invited)
    audit_record(
        action="task.published",
        actor=actor,
        program=program,
        target=task,
        data={
            "title": title,
            "category": category,
            "pay": pay,
            "fixed_pay_minor": fixed_pay_minor,
            "currency": card.currency,
            "estimated_minutes": estimated_minutes,
            "capacity": capacity,
            "due_at": due_at.isoformat(),
            "invited": [p.pk for p in invited],
        },
    )
    audience = invited or [p for p in _testers(program) if p.pk != actor.pk]
    pay_text = format_minor(fixed_pay_minor, card.currency) if fixed_pay_minor else f"{card.hourly_display} an hour"
    notify_many(
        users=audience,
        kind=Kind.TASK_PUBLISHED,
        program=program,
        title=f"New assignment in {program.name}: {title}",
        body=f"{Task.Category(category).label}, about {estimated_minutes} min, pays {pay_text}. "
        f"Due {due_at:%d %b %Y %H:%M} UTC. {capacity} place(s).",
        link=reverse("labour:task_detail", args=[task.pk]),
    )
    return task


@transaction.atomic
def task_close(*, task: Task, actor) -> Task:
    task = Task.objects.select_for_update().get(pk=task.pk)
    authorize(actor, Act.MANAGE, program=task.program_id)
    if task.status == Task.Status.CLOSED:
        return task
    task.status, task.closed_at = Task.Status.CLOSED, timezone.now()
    task.save(update_fields=["status", "closed_at"])
    audit_record(action="task.closed", actor=actor, program=task.program, target=task, data={"title": task.title})
    return task


# --- artists -----------------------------------------------------------------------------


def task_open_to(*, task: Task, artist) -> bool:
    """May this artist take the task on (ignoring capacity)?"""
    if not Enrollment.objects.filter(
        program_id=task.program_id, artist=artist, status=Enrollment.Status.ACTIVE
    ).exists():
        return False
    invited = list(task.invited.values_list("pk", flat=True))
    return not invited or artist.pk in invited


def task_visible_to(*, task: Task, user) -> bool:
    """Who may read a task: those it is open to, those who took it, and its program's reviewers."""
    return (
        task_open_to(task=task, artist=user)
        or task.assignments.filter(artist=user).exists()
        or can(user, Act.REVIEW, program=task.program_id)
    )


@transaction.atomic
def assignment_take(*, task: Task, artist) -> Assignment:
    """Take a task on. The task row is locked, so two artists cannot both take its last place."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if not task_open_to(task=task, artist=artist):
        raise NotFound("No such task among those offered to you.")
    if task.status != Task.Status.OPEN:
        raise TaskClosed("This task is closed.")
    if task.due_at <= timezone.now():
        raise TaskClosed("This task is past its due date.")
    if task.assignments.filter(artist=artist).exists():
        raise InvalidTransition("You already took this task on.", code="already_taken")
    if task.assignments.filter(status__in=Assignment.HOLDING_CAPACITY).count() >= task.capacity:
        raise TaskFull("Every place on this task is taken.")
    try:
        with transaction.atomic():
            assignment = Assignment.objects.create(task=task, artist=artist, accepted_at=timezone.now())
    except IntegrityError:
        raise InvalidTransition("You already took this task on.", code="already_taken") from None
    audit_record(
        action="task.accepted_by_artist",
        actor=artist,
        subject=artist,
        program=task.program,
        target=assignment,
        data={"task": task.pk, "title": task.title},
    )
    return assignment


def _own(assignment: Assignment, artist) -> Assignment:
    assignment = Assignment.objects.select_for_update().select_related("task", "task__program").get(pk=assignment.pk)
    if assignment.artist_id != getattr(artist, "pk", None):
        raise NotFound("No such assignment among yours.")
    return assignment


@transaction.atomic
def assignment_withdraw(*, assignment: Assignment, artist) -> Assignment:
    assignment = _own(assignment, artist)
    if assignment.status not in Assignment.OPEN_STATUSES:
        raise InvalidTransition(
            f"An assignment that is {assignment.get_status_display().lower()} cannot be given back."
        )
    assignment.status = Assignment.Status.WITHDRAWN
    assignment.save(update_fields=["status"])
    audit_record(
        action="task.withdrawn",
        actor=artist,
        subject=artist,
        program=assignment.task.program,
        target=assignment,
        data={"task": assignment.task_id},
    )
    return assignment


def generations_while_active(*, assignment: Assignment, until: dt.datetime | None = None):
    """The artist's generations in the task's program made since they took it on."""
    jobs = GenerationJob.objects.filter(
        artist_id=assignment.artist_id, program_id=assignment.task.program_id, created_at__gte=assignment.accepted_at
    )
    if until is not None:
        jobs = jobs.filter(created_at__lte=until)
    return jobs.order_by("created_at", "id")


def assignment_for_finding(*, assignment_id: int | None, artist, program: Program) -> Assignment | None:
    """The assignment a new finding belongs to: the artist's own, in this program, still
    being worked on."""
    if assignment_id is None:
        return None
    assignment = Assignment.objects.select_related("task").filter(pk=assignment_id, artist=artist).first()
    if assignment is None or assignment.task.program_id != program.pk:
        raise InvalidInput("No such assignment of yours in this program.", field="assignment")
    if assignment.status not in Assignment.OPEN_STATUSES:
        raise InvalidInput("Findings are added while you work on the assignment.", field="assignment")
    return assignment


@transaction.atomic
def assignment_submit(
    *,
    assignment: Assignment,
    artist,
    note: str = "",
    minutes: int | None = None,
    generation_ids: Iterable[int] | None = None,
) -> Assignment:
    """Hand the work in. Unless the artist chooses, every generation they made in the program
    since taking the task on is linked."""
    assignment = _own(assignment, artist)
    task = assignment.task
    if assignment.status not in Assignment.OPEN_STATUSES:
        raise InvalidTransition(f"An assignment that is {assignment.get_status_display().lower()} cannot be submitted.")
    note = _text(note, field="note", max_length=10_000, label="summary", required=False)
    if task.pay == Task.Pay.HOURLY:
        minutes = _whole(minutes, field="minutes", low=1, high=MINUTES_PER_DAY, label="time you worked, in minutes")
    else:
        minutes = None
    findings = assignment.findings.count()
    if not findings and not note:
        raise InvalidInput(
            "Submit at least one finding, or say in the summary what you tested and found.",
            field="note",
            code="nothing_to_submit",
        )
    now = timezone.now()
    if generation_ids is None:
        jobs = list(generations_while_active(assignment=assignment, until=now))
    else:
        wanted = sorted(set(generation_ids))
        jobs = list(GenerationJob.objects.filter(pk__in=wanted, artist=artist, program_id=task.program_id))
        if len(jobs) != len(wanted):
            raise InvalidInput(
                "Link only your own generations in this program.", field="generations", code="not_your_generation"
            )
    assignment.generations.set(jobs)
    assignment.status, assignment.submitted_at = Assignment.Status.SUBMITTED, now
    assignment.note, assignment.minutes = note, minutes
    assignment.save(update_fields=["status", "submitted_at", "note", "minutes"])
    audit_record(
        action="task.submitted",
        actor=artist,
        subject=artist,
        program=task.program,
        target=assignment,
        data={
            "task": task.pk,
            "findings": findings,
            "generations": len(jobs),
            "minutes": minutes,
            "generation_ids": [j.pk for j in jobs],
        },
    )
    return assignment


# --- moderators --------------------------------------------------------------------------


def _pay(assignment: Assignment, reviewer) -> LedgerEntry | None:
    task = assignment.task
    card = current_rate_card(program_id=task.program_id)
    if card is None:
        raise Conflict("This program has no published rate card, so work cannot be paid yet.", code="no_rate_card")
    if card.currency != task.currency:
        raise Conflict(
            f"The task pays in {task.currency} but the rate card is now in {card.currency}; "
            "publish the task again in the new currency.",
            code="currency_changed",
        )
    if task.pay == Task.Pay.HOURLY:
        minutes = assignment.minutes or task.estimated_minutes
        amount = time_amount_minor(hourly_rate_minor=card.hourly_rate_minor, minutes=minutes)
        rate, basis, quantity = card.hourly_rate_minor, LedgerEntry.RateBasis.PER_HOUR, minutes
    else:
        minutes = task.estimated_minutes
        amount, rate, basis, quantity = task.fixed_pay_minor, task.fixed_pay_minor, LedgerEntry.RateBasis.PER_ITEM, 1
    assignment.paid_minutes = minutes
    if amount <= 0:  # a rate of zero pays nothing; the acceptance still counts
        return None
    return ledger_post(
        artist=assignment.artist_id,
        program_id=task.program_id,
        kind=LedgerEntry.Kind.TIME,
        amount_minor=amount,
        currency=card.currency,
        source=(Assignment.SOURCE_TYPE, assignment.pk),
        rate_card=card,
        rate_minor=rate,
        rate_basis=basis,
        quantity=quantity,
        created_by=reviewer,
        source_label=assignment.label,
        memo=f"{task.get_pay_display()}; {minutes} min",
    )


@transaction.atomic
def assignment_review(*, assignment: Assignment, reviewer, decision: str, reason: str = "") -> Assignment:
    """Accept (the pay posts once) or return with a reason (the artist fixes and resubmits)."""
    assignment = (
        Assignment.objects.select_for_update().select_related("task", "task__program", "artist").get(pk=assignment.pk)
    )
    task = assignment.task
    authorize(reviewer, Act.REVIEW, program=task.program_id, subject=assignment.artist_id)
    if decision not in (ACCEPT, RETURN):
        raise InvalidInput("Decide accept or return.", field="decision")
    if assignment.status != Assignment.Status.SUBMITTED:
        raise InvalidTransition(
            f"An assignment that is {assignment.get_status_display().lower()} is not waiting for review.",
            code="already_reviewed",
        )
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise InvalidInput("Keep the reason under 2000 characters.", field="reason")
    if decision == RETURN and not reason:
        raise InvalidInput("Tell the artist what to change.", field="reason")
    entry = None
    if decision == ACCEPT:
        entry = _pay(assignment, reviewer)
        assignment.ledger_entry = entry
        assignment.status = Assignment.Status.ACCEPTED
    else:
        assignment.status = Assignment.Status.RETURNED
    assignment.reviewed_by, assignment.reviewed_at, assignment.reason = reviewer, timezone.now(), reason
    assignment.save(update_fields=["status", "reviewed_by", "reviewed_at", "reason", "ledger_entry", "paid_minutes"])
    audit_record(
        action="task.work_accepted" if decision == ACCEPT else "task.work_returned",
        actor=reviewer,
        subject=assignment.artist,
        program=task.program,
        target=assignment,
        data={
            "task": task.pk,
            "reason": reason,
            "ledger_entry": entry.pk if entry else None,
            "amount_minor": entry.amount_minor if entry else 0,
            "currency": entry.currency if entry else None,
            "minutes": assignment.paid_minutes if entry else None,
        },
    )
    if decision == ACCEPT:
        title = f"Assignment “{task.title}” accepted"
        paid = f" {entry.amount_display} was added to your earnings ({entry.rate_display})." if entry else ""
        body = f"Your work on “{task.title}” was accepted.{paid}" + (f"\nNote: {reason}" if reason else "")
    else:
        title = f"Assignment “{task.title}” returned to you"
        body = (
            f"Your work on “{task.title}” was returned. Reason: {reason}\nChange what is asked and submit it "
            f"again before {task.due_at:%d %b %Y %H:%M} UTC."
        )
    notify(
        user=assignment.artist,
        kind=Kind.TASK_REVIEWED,
        program=task.program,
        title=title,
        body=body,
        link=reverse("labour:task_detail", args=[task.pk]),
    )
    return assignment


def findings_of(assignment: Assignment):
    return FeedbackReport.objects.filter(assignment=assignment).prefetch_related("attachments").order_by("id")
