"""The artist's generation studio: thin views over studio.services and the engine's reads."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from generation.models import GenerationJob
from generation.selectors import jobs_for_artist
from tester_platform.common.handlers import errors_as_message, errors_on, form_status
from tester_platform.errors import InvalidInput
from tester_platform.pagecache import ARTIST_PAGE_SCOPES, cached_page
from tester_platform.programs.models import Enrollment, Program
from tester_platform.studio.forms import MAX_STORYBOARD_ROWS, DeriveForm, GenerateForm, StoryboardForm
from tester_platform.studio.media import serve_signed_media, signed_media_url
from tester_platform.studio.selectors import generation_readiness, quota_for, studio_options
from tester_platform.studio.services import (
    generation_cancel,
    generation_for_user,
    generation_submit,
    generation_submit_with_uploads,
)


def _programs_for(user):
    return Program.objects.filter(enrollments__artist=user, enrollments__status=Enrollment.Status.ACTIVE).order_by(
        "name"
    )


@cached_page(access=login_required, scopes=ARTIST_PAGE_SCOPES, params=("status", "mode", "page"))
def studio(request):
    programs = list(_programs_for(request.user))
    options = {p.pk: studio_options(program=p) for p in programs}
    form = GenerateForm(request.POST or None, request.FILES or None, programs=programs, options=options)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        program = next(p for p in programs if p.pk == data.pop("program"))
        upload, rights = data.pop("image"), data.pop("rights_attested")
        with errors_on(form):
            uploads = {"image": _upload(upload)} if upload else {}
            job = generation_submit_with_uploads(
                artist=request.user, program=program, uploads=uploads, rights_attested=rights, **data
            )
            return redirect("studio:detail", job_id=job.pk)
    jobs = jobs_for_artist(artist=request.user).select_related("program").order_by("-created_at")
    status_filter = request.GET.get("status", "")
    mode_filter = request.GET.get("mode", "")
    if status_filter in GenerationJob.Status.values:
        jobs = jobs.filter(status=status_filter)
    if mode_filter in GenerationJob.Mode.values:
        jobs = jobs.filter(mode=mode_filter)
    page = Paginator(jobs, 12).get_page(request.GET.get("page"))
    for job in page:
        job.thumb_url = signed_media_url(job=job, kind="thumbnail", user=request.user)
    quotas = [quota_for(artist=request.user, program=p) for p in programs]
    readiness = generation_readiness(artist=request.user)
    return render(
        request,
        "studio/studio.html",
        {
            "readiness": readiness,
            "blocked": [r for r in readiness if not r["ready"]],
            "any_ready": any(r["ready"] for r in readiness),
            "filtered": bool(status_filter in GenerationJob.Status.values or mode_filter in GenerationJob.Mode.values),
            "form": form,
            "page": page,
            "quotas": quotas,
            "programs": programs,
            "statuses": GenerationJob.Status.choices,
            "modes": GenerationJob.Mode.choices,
            "status_filter": status_filter,
            "mode_filter": mode_filter,
            "options": list(options.values()),
            "mode_fields": GenerateForm.MODE_FIELDS,
        },
        status=form_status(form),
    )


def _upload(upload, *, field: str = "image", shot: str = "") -> tuple[bytes, str]:
    """The bytes and name of an uploaded file, refusing an oversized one before reading it
    (for a storyboard row, the error names the shot and points at its field)."""
    from generation.images import limits

    if upload.size > limits().max_bytes:
        raise InvalidInput(
            f"{shot}The image is {upload.size / 1e6:.1f} MB; at most {limits().max_bytes / 1e6:.0f} MB is accepted.",
            field=field,
        )
    return upload.read(), upload.name or ""


def _to_storyboard_row(shots: list[dict]):
    """An error about the shot at place p among the filled rows, pointed at that shot's row
    of the form (rows left empty in between are not shots)."""

    def translate(error):
        field = getattr(error, "field", None) or ""
        parts = field.split("_")
        if len(parts) < 2 or parts[0] != "shot" or not parts[1].isdigit() or not 0 < int(parts[1]) <= len(shots):
            return error
        place = int(parts[1])
        n = shots[place - 1]["n"]
        return InvalidInput(error.message.replace(f"Shot {place}:", f"Shot {n}:", 1), field=f"shot_{n}_image")

    return translate


@login_required
def storyboard(request):
    """Lay out shots and render them as one video."""
    programs = list(_programs_for(request.user))
    options = {p.pk: studio_options(program=p) for p in programs}
    form = StoryboardForm(request.POST or None, request.FILES or None, programs=programs, options=options)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        program = next(p for p in programs if p.pk == data["program"])
        with errors_on(form, translate=_to_storyboard_row(data["shots"])):
            # Errors name a shot by its place among the filled rows, as the service does.
            uploads = {
                index: _upload(shot["image"], field=f"shot_{index + 1}_image", shot=f"Shot {index + 1}: ")
                for index, shot in enumerate(data["shots"])
                if shot["image"]
            }
            shots = [{"prompt": shot["prompt"], "seconds": shot["seconds"]} for shot in data["shots"]]
            job = generation_submit_with_uploads(
                artist=request.user,
                program=program,
                uploads=uploads,
                rights_attested=data["rights_attested"],
                mode="storyboard",
                prompt="",
                shots=shots,
                aspect_ratio=data["aspect_ratio"],
                resolution=data["resolution"],
                seed=data["seed"],
            )
            return redirect("studio:detail", job_id=job.pk)
    readiness = generation_readiness(artist=request.user)
    rows = [
        {
            "n": n,
            "prompt": form[f"shot_{n}_prompt"],
            "seconds": form[f"shot_{n}_seconds"],
            "image": form[f"shot_{n}_image"],
        }
        for n in range(1, MAX_STORYBOARD_ROWS + 1)
    ]
    return render(
        request,
        "studio/storyboard.html",
        {
            "form": form,
            "programs": programs,
            "options": list(options.values()),
            "shot_rows": rows,
            "blocked": [r for r in readiness if not r["ready"]],
            "any_ready": any(r["ready"] for r in readiness),
        },
        status=form_status(form),
    )


def _job_or_404(request, job_id: int) -> GenerationJob:
    # Another's job or none: the service's NotFound, answered 404 by the page handler.
    return generation_for_user(user=request.user, job_id=job_id)


def _detail_context(request, job):
    video_url = signed_media_url(job=job, kind="video", user=request.user)
    return {
        "job": job,
        "video_url": video_url,
        "download_url": f"{video_url}?download=1" if video_url else None,
        "input_url": signed_media_url(job=job, kind="input", user=request.user),
        "demo_model": _random_weights(job.model_profile),
        "thumb_url": signed_media_url(job=job, kind="thumbnail", user=request.user),
        "usage": getattr(job, "usage", None) if job.status not in GenerationJob.ACTIVE_STATUSES else None,
        "is_owner": job.artist_id == request.user.pk,
    }


def _random_weights(profile_key: str) -> bool:
    from generation.conf import get_profile
    from generation.errors import ModelProfileError

    try:
        return get_profile(profile_key, check_dir=False).random_weights
    except ModelProfileError:  # recovers: a profile that cannot be read is not labelled demo weights
        return False


@login_required
def detail(request, job_id: int):
    job = _job_or_404(request, job_id)
    context = _detail_context(request, job)
    form = DeriveForm(request.POST or None, initial={"prompt": job.prompt})
    if request.method == "POST":
        if not context["is_owner"]:
            raise Http404("No such generation.")
        if form.is_valid():
            with errors_on(form):
                new_job = generation_submit(
                    artist=request.user, program=job.program, source_generation=job.pk, **form.submit_params()
                )
                return redirect("studio:detail", job_id=new_job.pk)
    context["derive_form"] = form
    context["mode_fields"] = DeriveForm.MODE_FIELDS
    if context["is_owner"]:
        readiness = generation_readiness(artist=request.user, program=job.program)
        context["blocked"] = [r for r in readiness if not r["ready"]] or (
            [] if readiness else [{"reason": "You are no longer enrolled in this program.", "action": None}]
        )
    return render(request, "studio/detail.html", context, status=form_status(form))


@login_required
@require_GET
def progress(request, job_id: int):
    """The htmx fragment polled while a job is queued or running."""
    job = _job_or_404(request, job_id)
    response = render(request, "studio/_progress.html", _detail_context(request, job))
    if job.status not in GenerationJob.ACTIVE_STATUSES and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"  # reload once, to show the player, usage and provenance
    return response


@login_required
@require_POST
def cancel(request, job_id: int):
    job = _job_or_404(request, job_id)
    with errors_as_message(request, not_found_page=True):  # e.g. it finished meanwhile
        generation_cancel(user=request.user, job=job)
    return redirect("studio:detail", job_id=job.pk)


def media(request, token: str):
    if not request.user.is_authenticated:
        from rest_framework.exceptions import AuthenticationFailed

        from tester_platform.api.authentication import BearerTokenAuthentication
        from tester_platform.api.models import ApiToken

        try:
            result = BearerTokenAuthentication().authenticate(request)
        except AuthenticationFailed:  # recovers: a bad token is no token; the signed URL alone decides
            result = None
        # Reading an output is a read like any API read: a token without the read scope
        # (one minted only to generate or to file feedback) must not fetch files either.
        if result is not None and ApiToken.Scope.READ in result[1].scopes:
            request.user = result[0]
    return serve_signed_media(request, token)
