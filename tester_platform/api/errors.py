"""The API's one exception handler (REST_FRAMEWORK["EXCEPTION_HANDLER"]): every error a
DRF view raises is answered as problem details (tester_platform.api.problems) — domain
errors of every family with their `http_status`, DRF's own (validation, auth with its
WWW-Authenticate, permission, not found, throttled with Retry-After, parse), Django's
validation errors, a body over the size limit (413), the database away (503 with
Retry-After), and anything unforeseen as a logged 500. Bad input is a 4xx, never a 500."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import set_rollback

from tester_platform.api.problems import PROBLEM_CONTENT_TYPE, answer_unexpected, describe


def exception_handler(exc, context):
    request = context.get("request")
    described = describe(exc, request)
    if described is None:
        described = answer_unexpected(exc, request)
    body, status, headers = described
    set_rollback()
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
