"""The moderation dashboard: the queue by deadline, the review screen, bulk approve,
appeals and per-moderator figures. Feedback and time reviews sit beside it (labour)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from tester_platform.accounts.roles import ADMIN, MODERATOR, PROGRAM_MANAGER
from tester_platform.common.access import role_required
from tester_platform.common.handlers import errors_as_message, errors_on, form_status
from tester_platform.pagecache import MODERATION_PAGE_SCOPES, cached_page
from tester_platform.sharing.forms import AppealDecisionForm, DecisionForm
from tester_platform.sharing.models import ShareRequest
from tester_platform.sharing.selectors import moderation_queue, moderator_figures, reviewable_programs
from tester_platform.sharing.services import (
    can_review,
    policy_reasons,
    share_appeal_decide,
    share_request_decide,
    share_requests_bulk_approve,
)
from tester_platform.studio.media import signed_media_url

REVIEWERS = (MODERATOR, PROGRAM_MANAGER, ADMIN)
PAGE_SIZE = 50


@cached_page(
    access=role_required(*REVIEWERS),
    scopes=MODERATION_PAGE_SCOPES,
    params=("program", "status", "destination", "overdue", "page"),
)
def queue(request):
    filters = {
        "program_id": request.GET.get("program") or None,
        "status": request.GET.get("status") if request.GET.get("status") in ShareRequest.Status.values else None,
        "destination": request.GET.get("destination")
        if request.GET.get("destination") in ShareRequest.Destination.values
        else None,
        "overdue": request.GET.get("overdue") == "1",
    }
    if filters["program_id"] and not str(filters["program_id"]).isdigit():
        filters["program_id"] = None
    page = Paginator(moderation_queue(user=request.user, **filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "sharing/queue.html",
        {
            "page": page,
            "now": timezone.now(),
            "programs": reviewable_programs(user=request.user),
            "statuses": ShareRequest.Status.choices,
            "destinations": ShareRequest.Destination.choices,
            "filters": filters,
        },
    )


def _reviewable(request, pk: int) -> ShareRequest:
    share_request = get_object_or_404(
        ShareRequest.objects.select_related(
            "program", "artist", "generation__consent_record__document", "reason", "decided_by"
        ),
        pk=pk,
    )
    if not can_review(user=request.user, program=share_request.program):
        raise Http404("No such share request among your programs.")
    return share_request


@role_required(*REVIEWERS)
def review(request, pk: int):
    share_request = _reviewable(request, pk)
    reasons = policy_reasons(program=share_request.program)
    form = DecisionForm(request.POST or None, reasons=reasons)
    appeal_form = AppealDecisionForm()
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            share_request_decide(share_request=share_request, moderator=request.user, **form.cleaned_data)
            messages.success(request, f"Request #{share_request.pk}: decision recorded.")
            nxt = moderation_queue(user=request.user).exclude(pk=share_request.pk).first()
            return redirect("sharing_review:review", pk=nxt.pk) if nxt else redirect("sharing_review:queue")
    job = share_request.generation
    history = (
        ShareRequest.objects.filter(artist=share_request.artist)
        .exclude(pk=share_request.pk)
        .select_related("reason")
        .order_by("-created_at")[:20]
    )
    return render(
        request,
        "sharing/review.html",
        {
            "r": share_request,
            "job": job,
            "form": form,
            "appeal_form": appeal_form,
            "reasons": reasons,
            "video_url": signed_media_url(job=job, kind="video", user=request.user),
            "thumb_url": signed_media_url(job=job, kind="thumbnail", user=request.user),
            "history": history,
            "events": share_request.events.select_related("actor"),
            "now": timezone.now(),
        },
        status=form_status(form),
    )


@role_required(*REVIEWERS)
@require_POST
def decide_appeal(request, pk: int):
    share_request = _reviewable(request, pk)
    form = AppealDecisionForm(request.POST)
    if form.is_valid():
        with errors_as_message(request):
            share_appeal_decide(
                share_request=share_request,
                moderator=request.user,
                overturn=form.cleaned_data["outcome"] == "overturn",
                note=form.cleaned_data["note"],
            )
            messages.success(request, "Appeal decided.")
    else:
        messages.error(request, "Choose whether to overturn or uphold.")
    return redirect("sharing_review:review", pk=share_request.pk)


@role_required(*REVIEWERS)
@require_POST
def bulk_approve(request):
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    approved = share_requests_bulk_approve(ids=ids, moderator=request.user)
    messages.success(request, f"Approved {len(approved)} of {len(ids)} selected request(s).")
    return redirect("sharing_review:queue")


@role_required(*REVIEWERS)
def figures(request):
    programs = reviewable_programs(user=request.user)
    return render(request, "sharing/figures.html", {"rows": moderator_figures(programs=programs)})
