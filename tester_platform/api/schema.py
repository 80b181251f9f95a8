"""OpenAPI details drf-spectacular cannot see by itself: the bearer scheme, and the
problem-details answers (tester_platform.api.problems) every operation can give, added by
one AutoSchema from what the operation is (method, path and query parameters, body, its
permissions and throttles) rather than by a decorator on each view."""

from __future__ import annotations

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from tester_platform.api.problems import PROBLEM_CONTENT_TYPE

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
ERROR_DESCRIPTIONS = {
    "400": "Bad input: `errors` names each field at fault (code `invalid` or the service's own).",
    "401": "No credentials, or a token that is wrong, expired or revoked.",
    "403": "Not allowed: the token lacks the scope, or the caller's role or state does not permit it.",
    "404": "No such object, or not yours to see (another artist's objects answer 404).",
    "409": "The object's state does not allow this now (e.g. already finished, program paused).",
    "413": "The request body is larger than allowed.",
    "416": "The Range is outside the file; `Content-Range: bytes */<size>` gives its size.",
    "429": "Over a rate limit or quota; `Retry-After` says when to try again.",
    "503": "A dependency (the database) is not answering; `Retry-After` says when to try again.",
}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tester_platform.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/auth/token/"}


class ProblemDetailsSerializer(serializers.Serializer):
    """RFC 9457 problem details, the one shape of every API error."""

    type = serializers.CharField(help_text="`about:blank`: `code` carries the meaning.")
    title = serializers.CharField(help_text="The HTTP reason phrase.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(help_text="What went wrong, for programs (e.g. `not_found`, `quota_exceeded`).")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field at fault (`non_field_errors` for the whole body); empty when no field is.",
    )


# DRF refuses a NUL character in any text field (PostgreSQL cannot store one), and a
# required text that is only spaces (it trims them, then finds it blank): the schema says so.
NO_NUL_CHARACTERS = "^[^\\u0000]*$"
NOT_BLANK_NO_NUL = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


class ProblemAutoSchema(AutoSchema):
    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"enum", "format", "pattern"} & set(schema)
            and not any(isinstance(v, RegexValidator) for v in field.validators)
        ):
            trimmed_required = field.trim_whitespace and not field.allow_blank
            schema["pattern"] = NOT_BLANK_NO_NUL if trimmed_required else NO_NUL_CHARACTERS
        return schema

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            responses = operation.setdefault("responses", {})
            for status in self._error_statuses(operation):
                if status not in responses:
                    response = self._get_response_for_code(
                        ProblemDetailsSerializer, status, media_types=[PROBLEM_CONTENT_TYPE]
                    )
                    response["description"] = ERROR_DESCRIPTIONS[status]
                    responses[status] = response
        return operation

    def _error_statuses(self, operation) -> list[str]:
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        guarded = not all(isinstance(p, AllowAny) for p in self.view.get_permissions())
        statuses = []
        # a body that is not JSON is a 400 even where none is expected
        if has_body or self.method in ("POST", "PUT", "PATCH") or any(p.get("in") == "query" for p in parameters):
            statuses.append("400")
        statuses.append("401")  # no or bad credentials; the token endpoint: a wrong password
        if guarded:
            statuses.append("403")
        # a path names an object; so may a query (`?program=`, `?page=`) or a body (`generation`)
        if has_body or parameters:
            statuses.append("404")
        if guarded and self.method in UNSAFE:
            statuses.append("409")
        if has_body:
            statuses.append("413")
        if "206" in operation.get("responses", {}):
            statuses.append("416")
        if self.view.get_throttles():
            statuses.append("429")
        statuses.append("503")
        return statuses
