"""The artist's labour pages: file feedback and time (with proposed time), follow their
review, and read the earnings ledger. Thin views over labour.services and selectors."""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from generation.models import GenerationJob
from payments.money import format_minor
from payments.selectors import current_rate_card, entries_for_sources
from tester_platform.common.days import local_day
from tester_platform.common.handlers import errors_on, form_status
from tester_platform.errors import InvalidInput
from tester_platform.labour.forms import FeedbackForm, TimeEntryForm, parse_date
from tester_platform.labour.models import FeedbackReport, TimeEntry
from tester_platform.labour.selectors import (
    can_review,
    earnings_for,
    feedback_visible_to,
    pay_floor_assessments_for,
    programs_for_filing,
    time_entries_visible_to,
    time_suggestions,
    weekly_earnings,
)
from tester_platform.labour.services import feedback_submit, time_entry_submit
from tester_platform.pagecache import ARTIST_PAGE_SCOPES, cached_page

RECENT_JOBS = 50


def _recent_jobs(user, program_ids):
    return GenerationJob.objects.filter(artist=user, program_id__in=program_ids).order_by("-created_at")[:RECENT_JOBS]


# --- feedback ----------------------------------------------------------------------------


@login_required
def feedback_list(request):
    reports = FeedbackReport.objects.filter(artist=request.user).select_related("program").order_by("-created_at")
    earned = entries_for_sources(source_type=FeedbackReport.SOURCE_TYPE, source_ids=[r.pk for r in reports])
    for report in reports:
        report.entries = earned.get(str(report.pk), [])
    return render(request, "labour/feedback_list.html", {"reports": reports})


@login_required
def feedback_new(request):
    programs = list(programs_for_filing(artist=request.user))
    jobs = list(_recent_jobs(request.user, [p.pk for p in programs]))
    initial = {}
    assignment = None
    raw_assignment = request.POST.get("assignment") or request.GET.get("assignment", "")
    if raw_assignment.isdigit() and len(raw_assignment) <= 18:
        from tester_platform.labour.models import Assignment

        assignment = (
            Assignment.objects.select_related("task").filter(pk=int(raw_assignment), artist=request.user).first()
        )
        if assignment is not None:
            initial.update(assignment=assignment.pk, program=assignment.task.program_id)
    if request.GET.get("generation", "").isdigit():
        initial["generation"] = int(request.GET["generation"])
        job = next((j for j in jobs if j.pk == initial["generation"]), None)
        if job is not None:
            initial["program"] = job.program_id
    form = FeedbackForm(request.POST or None, request.FILES or None, programs=programs, jobs=jobs, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        program = next(p for p in programs if p.pk == data["program"])
        with errors_on(form):
            report = feedback_submit(
                artist=request.user,
                program=program,
                category=data["category"],
                severity=data["severity"],
                title=data["title"],
                body=data["body"],
                generation_id=data["generation"],
                generation_ids=data["generations"],
                attachments=_uploads(data["attachments"]),
                assignment=data["assignment"],
            )
            if report.assignment_id:
                messages.success(request, "Finding added to your assignment. Submit the assignment when done.")
                return redirect("labour:task_detail", task_id=report.assignment.task_id)
            messages.success(request, "Thank you — your report is waiting for review.")
            return redirect("labour:feedback_detail", report_id=report.pk)
    for p in programs:
        p.rate_card = current_rate_card(program_id=p.pk)
    return render(
        request,
        "labour/feedback_new.html",
        {"form": form, "programs": programs, "assignment": assignment},
        status=form_status(form),
    )


def _uploads(files) -> list[tuple[str, bytes]]:
    """(name, bytes) of each upload, refusing an oversized one before reading it."""
    from tester_platform.labour.evidence import limits, megabytes

    largest = max(limits().image_max_bytes, limits().video_max_bytes)
    out = []
    for upload in files or ():
        if upload.size > largest:
            raise InvalidInput(
                f"“{upload.name[:60]}” is {megabytes(upload.size)} MB; at most {megabytes(largest)} MB is accepted.",
                field="attachments",
            )
        out.append((upload.name or "", upload.read()))
    return out


@login_required
def feedback_detail(request, report_id: int):
    from tester_platform.labour.forms import RerateForm
    from tester_platform.labour.models import SeverityRerate

    report = (
        feedback_visible_to(user=request.user)
        .select_related("program", "generation", "duplicate_of")
        .prefetch_related("attachments", "generations")
        .filter(pk=report_id)
        .first()
    )
    if report is None:
        raise Http404("No such report.")
    source_ids = [report.pk]
    entries = entries_for_sources(source_type=FeedbackReport.SOURCE_TYPE, source_ids=source_ids).get(str(report.pk), [])
    rerates = list(SeverityRerate.objects.filter(report=report).select_related("ledger_entry", "rerated_by"))
    reviewer = can_review(user=request.user, program_id=report.program_id) and report.artist_id != request.user.pk
    return render(
        request,
        "labour/feedback_detail.html",
        {
            "report": report,
            "entries": entries,
            "is_owner": report.artist_id == request.user.pk,
            "can_review": reviewer,
            "rerates": rerates,
            "rerate_form": RerateForm(initial={"severity": report.severity})
            if reviewer and report.status in ("submitted", "accepted")
            else None,
            "merged_here": list(report.duplicates.order_by("created_at").values_list("pk", flat=True)),
        },
    )


@login_required
def attachment(request, attachment_id: int):
    """Evidence is private: its reporter and the program's reviewers, nobody else (404)."""
    from django.core.files.storage import default_storage
    from django.http import FileResponse

    from tester_platform.labour.models import FeedbackAttachment

    item = FeedbackAttachment.objects.filter(
        pk=attachment_id, report__in=feedback_visible_to(user=request.user)
    ).first()
    if item is None or not default_storage.exists(item.file.name):
        raise Http404("No such attachment.")
    response = FileResponse(default_storage.open(item.file.name, "rb"), content_type=item.content_type)
    response["Content-Disposition"] = f'inline; filename="evidence-{item.pk}.{item.file.name.rsplit(".", 1)[-1]}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- time --------------------------------------------------------------------------------


@login_required
def time_list(request):
    entries = (
        TimeEntry.objects.filter(artist=request.user)
        .select_related("program")
        .prefetch_related("generations")
        .order_by("-date", "-id")
    )
    earned = entries_for_sources(source_type=TimeEntry.SOURCE_TYPE, source_ids=[e.pk for e in entries])
    for entry in entries:
        entry.entries = earned.get(str(entry.pk), [])
    programs = list(programs_for_filing(artist=request.user))
    proposals = [(p, time_suggestions(artist=request.user, program_id=p.pk)) for p in programs]
    return render(request, "labour/time_list.html", {"entries": entries, "proposals": proposals})


@login_required
def time_new(request):
    programs = list(programs_for_filing(artist=request.user))
    jobs = list(_recent_jobs(request.user, [p.pk for p in programs]))
    initial = {"date": parse_date(request.GET.get("date")) or local_day()}
    if request.GET.get("minutes", "").isdigit():
        initial["minutes"] = int(request.GET["minutes"])
    if request.GET.get("program", "").isdigit():
        initial["program"] = int(request.GET["program"])
    if request.GET.get("generations"):
        initial["generations"] = [int(v) for v in request.GET["generations"].split(",") if v.isdigit()]
    form = TimeEntryForm(request.POST or None, programs=programs, jobs=jobs, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        program = next(p for p in programs if p.pk == data["program"])
        with errors_on(form):
            entry = time_entry_submit(
                artist=request.user,
                program=program,
                date=data["date"],
                minutes=data["minutes"],
                description=data["description"],
                generation_ids=data["generations"],
            )
            messages.success(request, "Time filed — it is waiting for review.")
            return redirect("labour:time_detail", entry_id=entry.pk)
    proposals = [(p, time_suggestions(artist=request.user, program_id=p.pk)) for p in programs]
    for p in programs:
        p.rate_card = current_rate_card(program_id=p.pk)
    return render(
        request,
        "labour/time_new.html",
        {"form": form, "proposals": proposals, "programs": programs},
        status=form_status(form),
    )


@login_required
def time_detail(request, entry_id: int):
    entry = (
        time_entries_visible_to(user=request.user)
        .select_related("program")
        .prefetch_related("generations")
        .filter(pk=entry_id)
        .first()
    )
    if entry is None:
        raise Http404("No such time entry.")
    entries = entries_for_sources(source_type=TimeEntry.SOURCE_TYPE, source_ids=[entry.pk]).get(str(entry.pk), [])
    return render(
        request,
        "labour/time_detail.html",
        {"entry": entry, "entries": entries, "is_owner": entry.artist_id == request.user.pk},
    )


# --- earnings ----------------------------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM, CHART_LEFT = 720, 240, 20, 40, 8


def _chart(weeks: list[tuple[dt.date, int]], currency: str) -> dict:
    """Bar geometry for the inline SVG, in whole pixels (integer arithmetic throughout)."""
    peak = max([amount for _, amount in weeks] + [1])
    plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    slot = (CHART_WIDTH - CHART_LEFT) // max(1, len(weeks))
    bars = []
    for index, (monday, amount) in enumerate(weeks):
        height = max(0, amount) * plot_height // peak
        x = CHART_LEFT + index * slot
        bars.append(
            {
                "x": x + slot // 8,
                "width": slot * 3 // 4,
                "y": CHART_TOP + plot_height - height,
                "height": height,
                "label_x": x + slot // 2,
                "monday": monday,
                "amount": amount,
                "amount_display": format_minor(amount, currency),
            }
        )
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "baseline": CHART_TOP + plot_height,
        "label_y": CHART_HEIGHT - CHART_BOTTOM // 2,
        "peak_display": format_minor(peak, currency),
        "has_earnings": any(amount > 0 for _, amount in weeks),
    }


@cached_page(access=login_required, scopes=ARTIST_PAGE_SCOPES)
def earnings(request):
    data = earnings_for(artist=request.user)
    weeks = weekly_earnings(lines=data.lines, currency=data.currency)
    return render(
        request,
        "labour/earnings.html",
        {
            "earnings": data,
            "balance": data.balance,
            "earned_display": format_minor(data.balance.earned, data.currency),
            "unpaid_display": format_minor(data.balance.unpaid, data.currency),
            "paid_display": format_minor(data.balance.paid, data.currency),
            "other_balances": [b for b in data.balances if b.currency != data.currency],
            "chart": _chart(weeks, data.currency),
            "assessments": pay_floor_assessments_for(artist=request.user)[:12],
        },
    )


def _csv_safe(value) -> str:
    # Cells a spreadsheet would run as a formula are prefixed with a quote (CSV injection).
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@login_required
def earnings_csv(request):
    data = earnings_for(artist=request.user)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="atelier-earnings.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "id",
            "created_at",
            "kind",
            "amount_minor",
            "currency",
            "amount",
            "program",
            "source_type",
            "source_id",
            "source",
            "rate_card_version",
            "rate_minor",
            "rate_basis",
            "quantity",
            "rate",
            "memo",
        ]
    )
    for line in data.lines:
        writer.writerow(
            [
                line.pk,
                line.created_at.isoformat(),
                line.kind,
                line.amount_minor,
                line.currency,
                line.amount_display,
                _csv_safe(line.program.name),
                line.source_type,
                line.source_id,
                _csv_safe(line.source_label),
                line.rate_card_version or "",
                "" if line.rate_minor is None else line.rate_minor,
                line.rate_basis,
                "" if line.quantity is None else line.quantity,
                line.rate_display,
                _csv_safe(line.memo),
            ]
        )
    return response
