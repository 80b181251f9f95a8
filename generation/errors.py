"""Engine domain errors. Each carries the HTTP status the platform should answer with
and, where one input is at fault, the ``field`` to attach the message to. Messages are
written for the artist."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured


class GenerationError(Exception):
    http_status = 400
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field

    def as_dict(self) -> dict[str, Any]:
        return {self.field or "detail": [self.message]}


class InvalidParameters(GenerationError):
    """A parameter is unknown, out of range, or beyond the model profile's limits (400)."""

    http_status = 400


class SourceNotUsable(InvalidParameters):
    """Variation/extension source is not the artist's own succeeded output (400)."""

    field = "source_generation"


class QuotaExceeded(GenerationError):
    """The budget the platform passed in would be exceeded (429)."""

    http_status = 429


class InvalidTransition(GenerationError):
    """The job is not in a state that allows this (409)."""

    http_status = 409


class ModelProfileError(ImproperlyConfigured):
    """A model profile is misconfigured (hub id instead of a local directory, bad class...)."""
