"""The one view-side handler for service errors on pages. A service error of any family
(the platform's DomainError, the engines' GenerationError and PaymentsError: one shape,
see tester_platform.errors) is answered in one of three ways, and never as a 500:

- on a form: `with errors_on(form):` around the service call puts the message on the field
  it names (or on the whole form); the view goes on to re-render the form (400);
- on an action that redirects back (POST, then a page): `with errors_as_message(request):`
  shows the message on the next page, as the success message would have been;
- in a view that shows the error in its own answer (an htmx row): `with errors_caught() as
  caught:` and then `caught.error` with error_status(caught.error);
- anywhere else the error escapes the view and ServiceErrorMiddleware renders error.html
  with the message, a title (the view's `@error_title`, or one for the status) and the
  error's own status (403, 404, 409, 429, 502…).

The API answers the same errors as problem details (tester_platform.api.problems, with the
same code, message and field); this middleware leaves /api/ paths to it."""

from __future__ import annotations

from contextlib import contextmanager
from typing import cast

from django.contrib import messages
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from tester_platform.errors import ServiceError, domain_error_classes

API_PREFIX = "/api/"

_TITLES = {
    400: "That did not work",
    402: "Refused by the payment provider",
    403: "Not allowed",
    404: "Not found",
    409: "Not possible right now",
    429: "Too many requests",
    502: "A service we depend on is not reachable right now",
}


def is_service_error(exc: BaseException) -> bool:
    return isinstance(exc, domain_error_classes())


def error_status(error: ServiceError) -> int:
    """The status a page answers a service error with: its `http_status` when it is an
    error status, else 400 (a hint outside 400-599 is a bug, not a reason for a 500)."""
    status = int(getattr(error, "http_status", 400) or 400)
    return status if 400 <= status <= 599 else 400


@contextmanager
def errors_on(form, translate=None):
    """Put a service error raised inside the block on `form` (its field, else the whole form)
    and remember its status for form_status. `translate(error)` may first point it at
    another field (a storyboard row, say)."""
    try:
        yield
    except domain_error_classes() as caught_error:
        error = cast(ServiceError, caught_error)
        if error_status(error) == 404:
            raise  # not a form error: the thing is not there (or not the caller's): a 404 page
        if translate is not None:
            error = translate(error)
        field = getattr(error, "field", None)
        form.add_error(field if field in form.fields else None, error.message)
        form.service_error_status = error_status(error)


class Caught:
    error: ServiceError | None = None


@contextmanager
def errors_caught():
    """For a view that shows the error inside its own answer (an htmx table row): `.error`
    is the service error raised inside the block, or None. 404s go on to the 404 page."""
    caught = Caught()
    try:
        yield caught
    except domain_error_classes() as caught_error:
        error = cast(ServiceError, caught_error)
        if error_status(error) == 404:
            raise
        caught.error = error


def form_status(form) -> int:
    """The status of a form page: 200; 400 when the form has errors; the service error's own
    status when a service refused it (409 paused, 429 over quota, 403…)."""
    if not form.is_bound or not form.errors:
        return 200
    return getattr(form, "service_error_status", 400)


@contextmanager
def errors_as_message(request, wording: str = "{message}", *, not_found_page: bool = False):
    """Show a service error raised inside the block as an error message on the next page
    (`wording` may put the error's message in a sentence of the view's own). The view has
    already found what it acts on, so even a service's "not found" (a task not offered to
    this person) is said on that thing's page, unless `not_found_page`: then it is the
    page handler's 404 (the caller may see the thing but must not learn it could act on it)."""
    try:
        yield
    except domain_error_classes() as caught_error:
        error = cast(ServiceError, caught_error)
        if not_found_page and error_status(error) == 404:
            raise
        messages.error(request, wording.replace("{message}", error.message))


def error_title(title: str):
    """The heading of the error page for service errors this view lets escape."""

    def decorator(view):
        view.error_title = title
        return view

    return decorator


def error_page(request, error: ServiceError, *, title: str | None = None):
    status = error_status(error)
    back = request.META.get("HTTP_REFERER", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = "/"
    return render(
        request,
        "error.html",
        {
            "title": title or _TITLES.get(status, _TITLES[400]),
            "message": error.message,
            "code": getattr(error, "code", ""),
            "back": back,
        },
        status=status,
    )


class ServiceErrorMiddleware:
    """Answers a service error that escaped a page view with error.html and its status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        request.service_error_title = _declared_title(view_func)
        return None

    def process_exception(self, request, exception):
        if request.path.startswith(API_PREFIX) or not is_service_error(exception):
            return None  # the API answers problem details; anything else is a bug: Django's 500
        return error_page(request, cast(ServiceError, exception), title=getattr(request, "service_error_title", None))


def _declared_title(view_func) -> str | None:
    # Decorators built with functools.wraps copy the attribute up, but look through
    # __wrapped__ too for those that do not.
    while view_func is not None:
        title = getattr(view_func, "error_title", None)
        if title:
            return title
        view_func = getattr(view_func, "__wrapped__", None)
    return None
