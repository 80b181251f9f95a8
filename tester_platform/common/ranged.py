"""One way to send a stored file, with HTTP Range (RFC 9110 §14): a player seeks (and
Safari plays at all) only when a `Range: bytes=…` request gets 206 and the slice. Used by
the signed media view, the public share video and the API's downloads, so all three
answer ranges the same way."""

from __future__ import annotations

import re

from django.http import FileResponse, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header

CHUNK = 64 * 1024
_SINGLE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """(first, last) inclusive for a satisfiable single range; False when the range is
    well formed but unsatisfiable (416); None when there is no range we honour (several
    ranges, another unit, bad syntax: the whole file, as RFC 9110 allows)."""
    match = _SINGLE.match(header.strip().replace(" ", ""))
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid syntax: ignore the header
    if start >= size:
        return False
    return start, min(end, size - 1)


def _slice(handle, start: int, length: int):
    try:
        handle.seek(start)
        left = length
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        handle.close()


def ranged_file_response(
    request, *, storage, name: str, content_type: str, as_attachment: bool = False, filename: str = ""
):
    """200 with the whole file, 206 with the requested slice, or 416; `Accept-Ranges:
    bytes` on each. A Range with an If-Range we cannot validate gets the whole file."""
    size = storage.size(name)
    header = request.META.get("HTTP_RANGE", "")
    wanted = None
    if header and request.method in ("GET", "HEAD") and not request.META.get("HTTP_IF_RANGE"):
        wanted = parse_range(header, size)
    if wanted is False:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    elif wanted is None:
        response = FileResponse(
            storage.open(name, "rb"), content_type=content_type, as_attachment=as_attachment, filename=filename
        )
    else:
        start, end = wanted
        length = end - start + 1
        response = StreamingHttpResponse(
            _slice(storage.open(name, "rb"), start, length), status=206, content_type=content_type
        )
        response["Content-Length"] = str(length)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        if as_attachment or filename:
            response["Content-Disposition"] = content_disposition_header(as_attachment, filename)
    response["Accept-Ranges"] = "bytes"
    return response


# --- how a file leaves: settings.MEDIA_SERVE --------------------------------------------

SIGNED_URL_SECONDS = 5 * 60


def send_stored_file(
    request, *, storage, name: str, content_type: str, as_attachment: bool = False, filename: str = ""
):
    """A stored file the caller was found allowed to read, by the configured means: through
    Python with Range here, through the web server (X-Accel-Redirect), or by a redirect to
    the storage backend's signed URL. Every door to media calls this after its own check."""
    from django.conf import settings

    mode = settings.MEDIA_SERVE
    if mode == "x-accel":
        return _x_accel(
            settings.MEDIA_ACCEL_PREFIX,
            name=name,
            content_type=content_type,
            as_attachment=as_attachment,
            filename=filename,
        )
    if mode == "storage-url":
        return _storage_redirect(
            storage, name=name, content_type=content_type, as_attachment=as_attachment, filename=filename
        )
    return ranged_file_response(
        request, storage=storage, name=name, content_type=content_type, as_attachment=as_attachment, filename=filename
    )


def _x_accel(prefix: str, *, name: str, content_type: str, as_attachment: bool, filename: str) -> HttpResponse:
    """An empty answer nginx replaces with the file at its internal location; nginx then
    answers Range (206, Content-Range, 416) itself and keeps the headers set here."""
    from urllib.parse import quote

    response = HttpResponse(b"", content_type=content_type)
    response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(name.lstrip("/"))
    if as_attachment or filename:
        response["Content-Disposition"] = content_disposition_header(as_attachment, filename)
    response["Accept-Ranges"] = "bytes"
    return response


def _storage_redirect(storage, *, name: str, content_type: str, as_attachment: bool, filename: str):
    """302 to the backend's signed URL (django-storages' S3: a presigned GET that the bucket
    honours Range on), valid a few minutes, naming the type and attachment it must answer."""
    import inspect

    parameters = {"ResponseContentType": content_type}
    if as_attachment or filename:
        parameters["ResponseContentDisposition"] = content_disposition_header(as_attachment, filename)
    accepted = inspect.signature(storage.url).parameters
    if "parameters" in accepted and "expire" in accepted:
        url = storage.url(name, parameters=parameters, expire=SIGNED_URL_SECONDS)
    else:  # a backend without signed URLs: refused at start by the system check
        url = storage.url(name)
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, no-store"  # the signed URL expires; do not keep the redirect
    return response
