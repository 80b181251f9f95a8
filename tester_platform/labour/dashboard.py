"""Review queues for feedback and time in the moderation dashboard: inline accept/reject
with htmx (the forms work without it too), bulk accept, and "acted on" for managers."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from payments.selectors import current_rate_card
from tester_platform.accounts.roles import ADMIN, MODERATOR, PROGRAM_MANAGER
from tester_platform.common.access import role_required
from tester_platform.common.handlers import error_status, errors_as_message, errors_caught
from tester_platform.errors import DomainError
from tester_platform.labour.forms import ReviewForm
from tester_platform.labour.models import FeedbackReport, TimeEntry
from tester_platform.labour.selectors import (
    accepted_not_acted_on,
    can_mark_acted_on,
    feedback_queue,
    reviewable_programs,
    time_queue,
)
from tester_platform.labour.services import bulk_accept, feedback_mark_acted_on, feedback_review, time_entry_review

REVIEWERS = (MODERATOR, PROGRAM_MANAGER, ADMIN)


def _program_filter(request) -> int | None:
    value = request.GET.get("program", "")
    return int(value) if value.isdigit() and len(value) <= 18 else None


@role_required(*REVIEWERS)
def queue(request):
    program_id = _program_filter(request)
    programs = list(reviewable_programs(user=request.user).order_by("name"))
    cards = {p.pk: current_rate_card(program_id=p.pk) for p in programs}
    reports = list(feedback_queue(user=request.user, program_id=program_id))
    entries = list(time_queue(user=request.user, program_id=program_id))
    for item in reports + entries:
        item.rate_card = cards.get(item.program_id)
    acted = list(accepted_not_acted_on(user=request.user, program_id=program_id))
    for report in acted:
        report.can_mark = can_mark_acted_on(user=request.user, program_id=report.program_id)
    return render(
        request,
        "labour/dashboard/queue.html",
        {
            "programs": programs,
            "program_id": program_id,
            "reports": reports,
            "entries": entries,
            "acted": acted,
        },
    )


def _back(request):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(reverse("labour_review:queue"))


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _after_review(request, *, template: str, item, error: DomainError | None, name: str):
    if _is_htmx(request):
        item.refresh_from_db()
        item.rate_card = current_rate_card(program_id=item.program_id)
        return render(
            request,
            template,
            {name: item, "error": error.message if error else ""},
            status=error_status(error) if error else 200,
        )
    if error:
        messages.error(request, f"{item.label}: {error.message}")
    else:
        messages.success(request, f"{item.label}: {item.get_status_display().lower()}.")
    return _back(request)


@role_required(*REVIEWERS)
@require_POST
def feedback_decide(request, report_id: int):
    report = FeedbackReport.objects.filter(pk=report_id, program__in=reviewable_programs(user=request.user)).first()
    if report is None:
        raise Http404("No such report among the programs you review.")
    form = ReviewForm(request.POST)
    error = None
    if not form.is_valid():
        error = DomainError("Choose accept, reject or duplicate, and give a reason when rejecting.")
    else:
        # The row shows the error (htmx swaps it in), whichever family raised it: a refused
        # ledger posting is a PaymentsError.
        with errors_caught() as caught:
            feedback_review(
                report=report,
                reviewer=request.user,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
                duplicate_of_id=form.cleaned_data["duplicate_of"],
            )
        error = caught.error
    return _after_review(
        request, template="labour/dashboard/_feedback_row.html", item=report, error=error, name="report"
    )


@role_required(*REVIEWERS)
@require_POST
def time_decide(request, entry_id: int):
    entry = TimeEntry.objects.filter(pk=entry_id, program__in=reviewable_programs(user=request.user)).first()
    if entry is None:
        raise Http404("No such time entry among the programs you review.")
    form = ReviewForm(request.POST)
    error = None
    if not form.is_valid() or form.cleaned_data["decision"] == "duplicate":
        error = DomainError("Choose accept or reject, and give a reason when rejecting.")
    else:
        with errors_caught() as caught:
            time_entry_review(
                entry=entry,
                reviewer=request.user,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
            )
        error = caught.error
    return _after_review(request, template="labour/dashboard/_time_row.html", item=entry, error=error, name="entry")


def _ids(values) -> list[int]:
    return [int(v) for v in values if v.isdigit() and len(v) <= 18][:500]


@role_required(*REVIEWERS)
@require_POST
def bulk(request):
    allowed = reviewable_programs(user=request.user)
    feedback_ids = FeedbackReport.objects.filter(
        pk__in=_ids(request.POST.getlist("feedback")), program__in=allowed
    ).values_list("pk", flat=True)
    time_ids = TimeEntry.objects.filter(pk__in=_ids(request.POST.getlist("time")), program__in=allowed).values_list(
        "pk", flat=True
    )
    if not feedback_ids and not time_ids:
        messages.error(request, "Select the items to accept first.")
    else:
        result = bulk_accept(reviewer=request.user, feedback_ids=list(feedback_ids), time_entry_ids=list(time_ids))
        messages.success(request, f"Accepted {result['accepted']} item{'s' if result['accepted'] != 1 else ''}.")
        for label, message in result["skipped"]:
            messages.error(request, f"{label}: {message}")
    return _back(request)


@role_required(*REVIEWERS)
@require_POST
def acted_on(request, report_id: int):
    report = FeedbackReport.objects.filter(pk=report_id, program__in=reviewable_programs(user=request.user)).first()
    if report is None:
        raise Http404("No such report among the programs you review.")
    with errors_as_message(request, f"{report.label}: {{message}}"):
        feedback_mark_acted_on(report=report, actor=request.user, note=request.POST.get("note", "")[:2000])
        messages.success(request, f"{report.label}: marked as acted on; the artist sees it.")
    return redirect(reverse("labour_review:queue"))


@role_required(*REVIEWERS)
@require_POST
def rerate(request, report_id: int):
    from tester_platform.labour.findings import feedback_rerate
    from tester_platform.labour.forms import RerateForm

    report = FeedbackReport.objects.filter(pk=report_id, program__in=reviewable_programs(user=request.user)).first()
    if report is None:
        raise Http404("No such report among the programs you review.")
    form = RerateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the new severity and tell the artist why.")
    else:
        with errors_as_message(request, f"{report.label}: {{message}}"):
            feedback_rerate(
                report=report,
                moderator=request.user,
                severity=form.cleaned_data["severity"],
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, f"{report.label}: re-rated; the artist sees your reason.")
    return redirect(reverse("labour:feedback_detail", args=[report.pk]))
