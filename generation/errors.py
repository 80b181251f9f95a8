"""Engine domain errors. Each carries the HTTP status the platform should answer with
and, where one input is at fault, the ``field`` to attach the message to. Messages are
written for the artist."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class GenerationError(Exception):
    """The shape every service error of Atelier has (the platform's DomainError and the
    payments engine's PaymentsError too, which this engine cannot import): a `message` for
    people, a `code` for programs, the `field` at fault if one is, and the HTTP status the
    platform should answer with (`http_status`). The platform's view-side handler and its
    API's problem details read only these four."""

    http_status = 400
    code = "generation_error"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field
        if code:
            self.code = code


class InvalidParameters(GenerationError):
    """A parameter is unknown, out of range, or beyond the model profile's limits (400)."""

    http_status = 400
    code = "invalid_parameters"


class SourceNotUsable(InvalidParameters):
    """Variation/extension source is not the artist's own succeeded output (400)."""

    code = "source_not_usable"
    field = "source_generation"


class QuotaExceeded(GenerationError):
    """The budget the platform passed in would be exceeded (429)."""

    http_status = 429
    code = "quota_exceeded"


class InvalidTransition(GenerationError):
    """The job is not in a state that allows this (409)."""

    http_status = 409
    code = "invalid_transition"


class ModelProfileError(ImproperlyConfigured):
    """A model profile is misconfigured (hub id instead of a local directory, bad class...)."""
