"""The artist's side of sharing, and the public share page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tester_platform.common.handlers import errors_as_message, errors_on, form_status
from tester_platform.common.ranged import send_stored_file
from tester_platform.programs.models import Program
from tester_platform.sharing.forms import AppealForm, ResubmitForm, ShareRequestForm
from tester_platform.sharing.models import OPINION_CLAUSE, ShareRequest
from tester_platform.sharing.services import (
    policy_reasons,
    policy_steps,
    share_request_appeal,
    share_request_create,
    share_request_resubmit,
    share_request_revoke,
    share_request_withdraw,
)


def _mine(request, pk: int) -> ShareRequest:
    return get_object_or_404(
        ShareRequest.objects.select_related("program", "generation", "reason"), pk=pk, artist=request.user
    )


@login_required
def my_requests(request):
    requests = ShareRequest.objects.filter(artist=request.user).select_related("program", "generation", "reason")
    return render(request, "sharing/my_requests.html", {"requests": requests.order_by("-created_at")})


@login_required
def policy(request, slug: str):
    program = get_object_or_404(Program, slug=slug, enrollments__artist=request.user)
    return render(
        request,
        "sharing/policy.html",
        {
            "program": program,
            "steps": policy_steps(program=program),
            "reasons": policy_reasons(program=program),
            "opinion_clause": OPINION_CLAUSE,
        },
    )


@login_required
def create(request, generation_id: int):
    form = ShareRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            share_request = share_request_create(artist=request.user, generation_id=generation_id, **form.cleaned_data)
            messages.success(request, "Your share request is in review.")
            return redirect("sharing:detail", pk=share_request.pk)
    from generation.models import GenerationJob
    from tester_platform.studio.media import signed_media_url

    job = get_object_or_404(GenerationJob, pk=generation_id, artist=request.user)
    return render(
        request,
        "sharing/create.html",
        {
            "form": form,
            "job": job,
            "program": job.program,
            "video_url": signed_media_url(job=job, kind="video", user=request.user),
            "thumb_url": signed_media_url(job=job, kind="thumbnail", user=request.user),
            "reasons": policy_reasons(program=job.program),
            "opinion_clause": OPINION_CLAUSE,
        },
        status=form_status(form),
    )


@login_required
def detail(request, pk: int):
    share_request = _mine(request, pk)
    return render(
        request,
        "sharing/detail.html",
        {
            "r": share_request,
            "events": share_request.events.select_related("actor"),
            "appeal_form": AppealForm(),
            "resubmit_form": ResubmitForm(initial={"caption": share_request.caption}),
            "opinion_clause": OPINION_CLAUSE,
        },
    )


def _artist_action(request, pk: int, action):
    share_request = _mine(request, pk)
    with errors_as_message(request):
        action(share_request)
    return redirect("sharing:detail", pk=share_request.pk)


@login_required
@require_POST
def withdraw(request, pk: int):
    return _artist_action(request, pk, lambda r: share_request_withdraw(share_request=r, artist=request.user))


@login_required
@require_POST
def revoke(request, pk: int):
    return _artist_action(request, pk, lambda r: share_request_revoke(share_request=r, artist=request.user))


@login_required
@require_POST
def appeal(request, pk: int):
    form = AppealForm(request.POST)
    note = form.data.get("note", "")
    return _artist_action(request, pk, lambda r: share_request_appeal(share_request=r, artist=request.user, note=note))


@login_required
@require_POST
def resubmit(request, pk: int):
    caption = request.POST.get("caption")
    return _artist_action(
        request, pk, lambda r: share_request_resubmit(share_request=r, artist=request.user, caption=caption)
    )


# --- public ---------------------------------------------------------------------------


def _public_request(slug: str) -> ShareRequest:
    share_request = (
        ShareRequest.objects.select_related("artist", "program", "generation__consent_record__document")
        .filter(public_slug=slug)
        .first()
    )
    if share_request is None:
        raise Http404("No such share.")
    return share_request


def public_page(request, slug: str):
    share_request = _public_request(slug)
    if share_request.status == ShareRequest.Status.REVOKED:
        return render(request, "sharing/gone.html", {"r": share_request}, status=410)
    if share_request.status != ShareRequest.Status.APPROVED:
        raise Http404("No such share.")
    return render(request, "sharing/public.html", {"r": share_request, "job": share_request.generation})


def public_media(request, slug: str, kind: str):
    """The video (or poster) of an approved share, only while it is approved."""
    share_request = _public_request(slug)
    if share_request.status == ShareRequest.Status.REVOKED:
        return render(request, "sharing/gone.html", {"r": share_request}, status=410)
    if share_request.status != ShareRequest.Status.APPROVED:
        raise Http404("No such share.")
    field = share_request.generation.video if kind == "video" else share_request.generation.thumbnail
    if not field or not default_storage.exists(field.name):
        raise Http404("No such file.")
    content_type = "video/mp4" if kind == "video" else ("image/png" if field.name.endswith(".png") else "image/jpeg")
    response = send_stored_file(request, storage=default_storage, name=field.name, content_type=content_type)
    # Short cache: a revoked share must stop playing soon, even from caches.
    response.setdefault("Cache-Control", "public, max-age=60")
    return response
