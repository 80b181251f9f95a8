"""Problem details (RFC 9457) for every API error: one shape, one mapping from exception to
answer, used by DRF's exception handler (tester_platform.api.errors), the API middleware
(tester_platform.api.middleware) and the 404/500 handlers for /api/ paths.

The body: `type` (about:blank: the `code` carries the meaning), `title` (the HTTP reason
phrase, as RFC 9457 asks for about:blank), `status`, `detail` (for people), `code` (for
programs), `errors` ({field: [messages]}, empty when no field is at fault). For now the
field errors are also repeated at the top level, where clients of the earlier shape read
them (`body["program"][0]`); a field whose name is one of the RFC members (a feedback
`title`, say) is only under `errors`."""

from __future__ import annotations

import logging
import re
import uuid
from http import HTTPStatus

from django.core import signals
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse

logger = logging.getLogger("tester_platform.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
API_PREFIX = "/api/"
RFC_MEMBERS = ("type", "title", "status", "detail", "code", "errors")
NON_FIELD = "non_field_errors"
# Seconds a client should wait before retrying when the database is away.
DATABASE_RETRY_AFTER = 5
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "internal_error",
    503: "unavailable",
}
_DETAILS = {
    400: "The request could not be understood.",
    403: "You do not have permission to do this.",
    404: "There is nothing here, or it is not yours to see.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    500: "Something went wrong on our side.",
    503: "The service is unavailable; try again shortly.",
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


def request_id(request) -> str:
    """The id that ties a request's log lines to the answer it got: the caller's
    X-Request-ID when it looks like one (a proxy's), else a fresh one; kept on the request."""
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    rid = getattr(request, "request_id", None)
    if rid is None:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        request.request_id = rid
    return rid


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(
    status: int,
    *,
    code: str | None = None,
    detail: str | None = None,
    errors: dict[str, list[str]] | None = None,
    legacy_fields: dict | None = None,
    **extra,
) -> dict:
    """The body of a problem response. `legacy_fields` are repeated at the top level for
    clients of the earlier error shape (never over an RFC member)."""
    body = {
        "type": "about:blank",
        "title": _phrase(status),
        "status": status,
        "detail": detail or _DETAILS.get(status) or _phrase(status),
        "code": code or _CODES.get(status, "error"),
        "errors": errors or {},
    }
    body.update({k: v for k, v in extra.items() if k not in body})
    for field, value in (legacy_fields or {}).items():
        if field not in RFC_MEMBERS:
            body.setdefault(field, value)
    return body


def problem_response(status: int, *, body: dict | None = None, headers: dict | None = None, **kwargs) -> JsonResponse:
    """A plain Django answer (middleware, 404/500 handlers) with `body` or problem(status,
    **kwargs); DRF views answer through tester_platform.api.errors.exception_handler."""
    response = JsonResponse(body or problem(status, **kwargs), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def field_errors(detail, key: str = "") -> dict[str, list[str]]:
    """DRF/Django error detail (nested dicts and lists) as {field: [messages]}; nested
    fields are dotted (`output.width`, `items.0.name`)."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for name, value in detail.items():
            for field, messages in field_errors(value, f"{key}.{name}" if key else str(name)).items():
                out.setdefault(field, []).extend(messages)
        return out
    if isinstance(detail, (list, tuple)):
        out, messages = {}, []
        for index, item in enumerate(detail):
            if isinstance(item, (dict, list, tuple)):
                for field, nested in field_errors(item, f"{key}.{index}" if key else str(index)).items():
                    out.setdefault(field, []).extend(nested)
            else:
                messages.append(str(item))
        if messages:
            out.setdefault(key or NON_FIELD, []).extend(messages)
        return out
    return {key or NON_FIELD: [str(detail)]}


def summary(errors: dict[str, list[str]]) -> str:
    """One line for `detail`: the first message, with its field, and how many more."""
    total = sum(len(messages) for messages in errors.values())
    if not total:
        return "Invalid input."
    field, messages = next((f, m) for f, m in errors.items() if m)
    first = messages[0] if field == NON_FIELD else f"{field}: {messages[0]}"
    return first if total == 1 else f"{first} (and {total - 1} more)"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _domain(exc) -> tuple[dict, int, dict]:
    status = int(getattr(exc, "http_status", 400))
    code = getattr(exc, "code", None) or _snake(type(exc).__name__)
    message = str(getattr(exc, "message", None) or exc)
    field = getattr(exc, "field", None)
    errors = {field: [message]} if field else {}
    return problem(status, code=code, detail=message, errors=errors, legacy_fields=errors), status, {}


def _drf(exc) -> tuple[dict, int, dict]:
    from rest_framework import exceptions

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    status = exc.status_code
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError) or isinstance(detail, (dict, list)):
        errors = field_errors(detail)
        legacy = detail if isinstance(detail, dict) else {}
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "invalid"
        return problem(status, code=code, detail=summary(errors), errors=errors, legacy_fields=legacy), status, headers
    code = getattr(detail, "code", None) or exc.default_code
    return problem(status, code=code, detail=str(detail)), status, headers


def describe(exc, request) -> tuple[dict, int, dict] | None:
    """(body, status, headers) for an exception an API request raised, or None when it
    is not an error the caller can be told about (then: answer_unexpected)."""
    from rest_framework import exceptions

    from tester_platform.errors import domain_error_classes

    if isinstance(exc, domain_error_classes()):
        return _domain(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, exceptions.APIException):
        return _drf(exc)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD: exc.messages}
        return problem(400, code="invalid", detail=summary(errors), errors=errors, legacy_fields=errors), 400, {}
    if isinstance(exc, RequestDataTooBig):
        return too_large_body(), 413, {}
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error(
            "database unavailable on %s [request=%s]",
            request.path,
            request_id(request),
            exc_info=exc,
            extra={"request_id": request_id(request)},
        )
        retry = {"Retry-After": str(DATABASE_RETRY_AFTER)}
        return (
            problem(
                503, code="database_unavailable", detail="The database is not answering; try again in a few seconds."
            ),
            503,
            retry,
        )
    return None


def too_large_body() -> dict:
    from django.conf import settings

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return problem(413, code="too_large", detail=f"The request body is larger than the {limit} bytes allowed.")


def answer_unexpected(exc, request) -> tuple[dict, int, dict]:
    """A bug or an outage we did not foresee: log it with the request id (also in the
    answer, so a report can be matched to the log), tell Django's listeners (the test
    client re-raises it), and answer a 500 that says nothing about the cause."""
    rid = request_id(request)
    django_request = getattr(request, "_request", request)
    logger.error(
        "unhandled %s on %s %s [request=%s]",
        type(exc).__name__,
        django_request.method,
        django_request.path,
        rid,
        exc_info=exc,
        extra={"request_id": rid},
    )
    signals.got_request_exception.send(sender=None, request=django_request)
    body = problem(
        500,
        code="internal_error",
        detail=f"Something went wrong on our side. It was logged as request {rid}.",
        request_id=rid,
    )
    return body, 500, {}


# --- Django's error handlers (tester_platform.urls): JSON under /api/, the site's pages elsewhere ---


def page_not_found(request, exception):
    from django.views import defaults

    if is_api_path(request.path):
        return problem_response(404)  # never the resolver's message: it lists the URL patterns
    return defaults.page_not_found(request, exception)


def server_error(request):
    from django.views import defaults

    if is_api_path(request.path):
        rid = request_id(request)
        return problem_response(
            500,
            code="internal_error",
            request_id=rid,
            detail=f"Something went wrong on our side. It was logged as request {rid}.",
        )
    return defaults.server_error(request)  # templates/500.html, rendered without a database query
