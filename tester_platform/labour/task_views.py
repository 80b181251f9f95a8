"""Assignments in the portal (artists), the review queue (moderators) and the console
(managers). Thin views over labour.assignments."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from payments.selectors import current_rate_card
from tester_platform.common.access import role_required
from tester_platform.common.handlers import errors_as_message
from tester_platform.labour.assignments import (
    ACCEPT,
    assignment_review,
    assignment_submit,
    assignment_take,
    assignment_withdraw,
    findings_of,
    generations_while_active,
    task_open_to,
    task_visible_to,
)
from tester_platform.labour.forms import AssignmentReviewForm, AssignmentSubmitForm
from tester_platform.labour.models import Assignment, Task
from tester_platform.labour.selectors import assignment_queue, reviewable_programs, tasks_offered
from tester_platform.markup import render_markdown

REVIEWERS = ("moderator", "program_manager", "admin")


@login_required
def tasks(request):
    mine = list(Assignment.objects.filter(artist=request.user).select_related("task", "task__program", "ledger_entry"))
    offered = list(tasks_offered(artist=request.user))
    for task in offered:
        task.places_left = max(0, task.capacity - task.taken)
    return render(request, "labour/tasks.html", {"mine": mine, "offered": offered, "now": timezone.now()})


def _visible_task(request, task_id: int) -> Task:
    task = Task.objects.select_related("program").filter(pk=task_id).first()
    if task is None:
        raise Http404("No such task.")
    if task_visible_to(task=task, user=request.user):
        return task
    raise Http404("No such task among those offered to you.")


@login_required
def task_detail(request, task_id: int):
    task = _visible_task(request, task_id)
    assignment = Assignment.objects.filter(task=task, artist=request.user).select_related("ledger_entry").first()
    context = {
        "task": task,
        "assignment": assignment,
        "instructions_html": render_markdown(task.instructions),
        "taken": task.assignments.filter(status__in=Assignment.HOLDING_CAPACITY).count(),
        "rate_card": current_rate_card(program_id=task.program_id),
    }
    if assignment is not None:
        jobs = (
            list(generations_while_active(assignment=assignment))
            if assignment.status in Assignment.OPEN_STATUSES
            else list(assignment.generations.all())
        )
        context.update(
            {
                "findings": list(findings_of(assignment)),
                "jobs": jobs,
                "submit_form": AssignmentSubmitForm(
                    jobs=jobs,
                    hourly=task.pay == Task.Pay.HOURLY,
                    initial={
                        "generations": [j.pk for j in jobs],
                        "minutes": assignment.minutes or task.estimated_minutes,
                        "note": assignment.note,
                    },
                )
                if assignment.status in Assignment.OPEN_STATUSES
                else None,
            }
        )
    else:
        context["can_take"] = (
            task_open_to(task=task, artist=request.user)
            and task.status == Task.Status.OPEN
            and task.due_at > timezone.now()
        )
    return render(request, "labour/task_detail.html", context)


def _back(task_id: int):
    return redirect("labour:task_detail", task_id=task_id)


@login_required
@require_POST
def task_take(request, task_id: int):
    task = _visible_task(request, task_id)
    with errors_as_message(request):
        assignment_take(task=task, artist=request.user)
        messages.success(request, "It is yours. Generations you make in this program from now on are linked to it.")
    return _back(task.pk)


def _my_assignment(request, task_id: int) -> Assignment:
    assignment = Assignment.objects.select_related("task").filter(task_id=task_id, artist=request.user).first()
    if assignment is None:
        raise Http404("No such assignment among yours.")
    return assignment


@login_required
@require_POST
def assignment_submit_view(request, task_id: int):
    assignment = _my_assignment(request, task_id)
    jobs = list(generations_while_active(assignment=assignment))
    form = AssignmentSubmitForm(
        request.POST, jobs=list({j.pk: j for j in jobs}.values()), hourly=assignment.task.pay == Task.Pay.HOURLY
    )
    if not form.is_valid():
        messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
        return _back(task_id)
    with errors_as_message(request):
        assignment_submit(
            assignment=assignment,
            artist=request.user,
            note=form.cleaned_data["note"],
            minutes=form.cleaned_data.get("minutes"),
            generation_ids=form.cleaned_data["generations"],
        )
        messages.success(request, "Submitted. A moderator of the program reviews it; you will hear the outcome.")
    return _back(task_id)


@login_required
@require_POST
def assignment_withdraw_view(request, task_id: int):
    assignment = _my_assignment(request, task_id)
    with errors_as_message(request):
        assignment_withdraw(assignment=assignment, artist=request.user)
        messages.success(request, "You gave the task back; its place is free for someone else.")
    return redirect("labour:tasks")


# --- moderators --------------------------------------------------------------------------


@role_required(*REVIEWERS)
def review_queue(request):
    waiting = assignment_queue(user=request.user)
    return render(request, "labour/dashboard/assignments.html", {"waiting": waiting})


@role_required(*REVIEWERS)
@require_POST
def review(request, assignment_id: int):
    assignment = Assignment.objects.filter(
        pk=assignment_id, task__program__in=reviewable_programs(user=request.user)
    ).first()
    if assignment is None:
        raise Http404("No such assignment among the programs you review.")
    form = AssignmentReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose accept or return, and give a reason when returning.")
    else:
        # Accepting posts the pay: a refused posting (PaymentsError) is shown like any other.
        with errors_as_message(request, f"{assignment.label}: {{message}}"):
            assignment_review(
                assignment=assignment,
                reviewer=request.user,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
            )
            outcome = (
                "accepted: the pay is posted"
                if form.cleaned_data["decision"] == ACCEPT
                else "returned with your reason"
            )
            messages.success(request, f"{assignment.label}: {outcome}.")
    return redirect(reverse("labour_review:assignments"))
