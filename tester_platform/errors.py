"""Domain errors raised by services. Services never raise PermissionDenied or Http404
themselves; they raise these, and one handler answers them: on pages
(tester_platform.common.handlers: the form's field, a message, or an error page with the
status) and in the API (problem details, tester_platform.api.problems).

Three families share one shape — `message`, `code`, `field` (or None), `http_status` — the
platform's DomainError below and the engines' GenerationError and PaymentsError, which keep
their own bases because the engines never import the product."""

from __future__ import annotations

from typing import Protocol


class DomainError(Exception):
    http_status = 400
    code = "invalid"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field
        if code:
            self.code = code


class InvalidInput(DomainError):
    http_status = 400


class NotAllowed(DomainError):
    http_status = 403
    code = "not_allowed"


class NotFound(DomainError):
    http_status = 404
    code = "not_found"


class Conflict(DomainError):
    http_status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class ServiceError(Protocol):
    """The one shape of the three families (what the page handler and the API read)."""

    message: str
    code: str
    field: str | None
    http_status: int


def domain_error_classes() -> tuple[type[Exception], ...]:
    """Every error family a service may raise for the caller to answer with its
    `http_status`: the platform's and the two engines' (which cannot share this base,
    since they never import the product). Each has the one shape (see the module's doc)."""
    from generation.errors import GenerationError
    from payments.errors import PaymentsError

    return (DomainError, GenerationError, PaymentsError)
