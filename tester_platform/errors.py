"""Domain errors raised by services. Views and the API map them to HTTP answers through
`http_status`; services never raise PermissionDenied or Http404 themselves."""
from __future__ import annotations


class DomainError(Exception):
    http_status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def as_dict(self) -> dict:
        if self.field:
            return {self.field: [self.message], "code": self.code}
        return {"detail": self.message, "code": self.code}


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


def domain_error_classes() -> tuple[type[Exception], ...]:
    """Every error family a service may raise for the caller to answer with its
    `http_status`: the platform's and the two engines' (which cannot share this base,
    since they never import the product)."""
    from generation.errors import GenerationError
    from payments.errors import PaymentsError

    return (DomainError, GenerationError, PaymentsError)
