"""Errors raised outside DRF's views are problem details too, on /api/ paths: a body over
the size limit (413, refused before anything reads it), an exception in a non-DRF view,
and any other error answer another layer gave (the URL resolver's 404, a CSRF 403, a 400
for a suspicious request, Django's 500 page, DEBUG's technical pages, a view's plain-JSON
error in the earlier shape). First in MIDDLEWARE, so it sees what every other middleware
answers. Other paths keep their HTML error pages."""

from __future__ import annotations

import json

from django.conf import settings

from tester_platform.api.problems import (
    NON_FIELD,
    PROBLEM_CONTENT_TYPE,
    answer_unexpected,
    describe,
    field_errors,
    is_api_path,
    problem,
    problem_response,
    request_id,
    summary,
    too_large_body,
)

# Headers of the replaced answer that still mean something on the problem answer.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Vary", "Content-Range", "Accept-Ranges")


class ApiProblemMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_api_path(request.path):
            return self.get_response(request)
        rid = request_id(request)
        if self._declared_too_large(request):
            response = problem_response(413, body=too_large_body())
        else:
            response = self.get_response(request)
            if response.status_code >= 400 and _content_type(response) != PROBLEM_CONTENT_TYPE:
                replaced = response
                response = problem_response(replaced.status_code, body=_from_plain_json(replaced))
                for header in _KEPT_HEADERS:
                    if replaced.has_header(header):
                        response[header] = replaced[header]
        response["X-Request-ID"] = rid
        response.setdefault("X-Content-Type-Options", "nosniff")  # a 413 skips SecurityMiddleware
        return response

    def process_exception(self, request, exception):
        """An exception from a view that is not DRF's (DRF's answer through the handler)."""
        if not is_api_path(request.path):
            return None
        described = describe(exception, request) or answer_unexpected(exception, request)
        body, status, headers = described
        return problem_response(status, body=body, headers=headers)

    @staticmethod
    def _declared_too_large(request) -> bool:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # Django's limit leaves files out of a multipart body; so does this
        if limit is None or request.META.get("CONTENT_TYPE", "").startswith("multipart/"):
            return False
        try:
            return int(request.META.get("CONTENT_LENGTH") or 0) > limit
        except ValueError:
            return False


def _content_type(response) -> str:
    return response.get("Content-Type", "").split(";")[0].strip().lower()


def _from_plain_json(response) -> dict | None:
    """A problem body for an error a view answered as plain JSON in the earlier shape
    ({field: [messages], "code": ...}), or None (then the status's generic problem).
    Views should raise instead; this keeps the contract while some still answer."""
    if _content_type(response) != "application/json" or getattr(response, "streaming", False):
        return None
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    if isinstance(data, list):
        data = {NON_FIELD: data}
    if not isinstance(data, dict):
        return None
    fields = {k: v for k, v in data.items() if k not in ("code", "detail")}
    errors = field_errors(fields) if fields else {}
    detail = data.get("detail") if isinstance(data.get("detail"), str) else (summary(errors) if errors else None)
    code = data.get("code") if isinstance(data.get("code"), str) else None
    return problem(response.status_code, code=code, detail=detail, errors=errors, legacy_fields=fields)
