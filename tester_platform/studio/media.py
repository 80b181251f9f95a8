"""Private outputs leave only through here: a signed, short-lived URL that is also
checked against the signed-in user, so a copied link neither outlives its minutes nor
works for anyone else."""

from __future__ import annotations

from django.core import signing
from django.core.files.storage import default_storage
from django.http import Http404
from django.urls import reverse

from tester_platform.common.ranged import send_stored_file

MEDIA_URL_MAX_AGE = 15 * 60
_SALT = "atelier.studio.media"
KINDS = {
    "video": ("video", "video/mp4"),
    "thumbnail": ("thumbnail", "image/jpeg"),
    "input": ("input_image", "image/png"),
}


def _file_of(job, kind: str):
    field_name, _ = KINDS[kind]
    if kind == "input":
        return job.input_image.file if job.input_image_id else None
    return getattr(job, field_name)


def signed_media_url(*, job, kind: str, user) -> str | None:
    if not _file_of(job, kind):
        return None
    token = signing.dumps({"j": job.pk, "k": kind, "u": user.pk}, salt=_SALT, compress=True)
    return reverse("studio:media", args=[token])


def serve_signed_media(request, token: str):
    from tester_platform.errors import NotFound
    from tester_platform.studio.services import generation_for_user

    try:
        payload = signing.loads(token, salt=_SALT, max_age=MEDIA_URL_MAX_AGE)
    except signing.BadSignature:
        raise Http404("This link is not valid or has expired.") from None
    user = request.user
    if not user.is_authenticated or payload.get("u") != user.pk or payload.get("k") not in KINDS:
        raise Http404("This link is not valid for you.")
    try:
        job = generation_for_user(user=user, job_id=payload["j"])
    except NotFound:
        raise Http404("No such generation.") from None
    download = request.GET.get("download") == "1"
    return media_file_response(request, job=job, kind=payload["k"], as_attachment=download)


def media_file_response(request, *, job, kind: str, as_attachment: bool):
    """The file of an output (or its input still) the caller was already found allowed to
    read, with Range, sent as settings.MEDIA_SERVE says; 404 when it is not there."""
    _, content_type = KINDS[kind]
    file_field = _file_of(job, kind)
    if not file_field or not default_storage.exists(file_field.name):
        raise Http404("The file is not there.")
    name = file_field.name
    if name.endswith(".png"):
        content_type = "image/png"
    extension = {"video": ".mp4", "input": ".png"}.get(kind, ".jpg")
    response = send_stored_file(
        request,
        storage=default_storage,
        name=name,
        content_type=content_type,
        as_attachment=as_attachment,
        filename=f"atelier-{job.pk}{extension}" if as_attachment else "",
    )
    response.setdefault("Cache-Control", "private, max-age=600")
    response["X-Content-Type-Options"] = "nosniff"
    return response
