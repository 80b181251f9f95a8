from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from tester_platform.accounts.roles import is_staff_member

# What a staff session may reach before its second factor: the 2FA step itself, signing
# out, and public pages. Everything else — staff pages, the artist portal (a moderator who
# is also an artist opens others' outputs from there), htmx fragments and the session
# API — waits for it. An allowlist, so a new area is closed until someone opens it.
_OPEN_BEFORE_SECOND_FACTOR = (
    "/account/two-factor/",
    "/accounts/logout/",
    "/static/",
    "/s/",
    "/healthz",
    "/api/v1/auth/token/",
    "/api/schema/",
    "/api/docs/",
)


class StaffTwoFactorMiddleware:
    """While STAFF_2FA_REQUIRED (production), a signed-in staff session that has not
    passed TOTP (django-otp) in this session gets no page and no API answer but the 2FA
    step. Artists are not affected. Bearer tokens are checked where they are
    authenticated (tester_platform.api.authentication); services check again through the
    one policy, so a path this list forgets still cannot act."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.STAFF_2FA_REQUIRED and self._needs_verification(request):
            if request.path.startswith("/api/"):
                # the API's problem shape (tester_platform.api.problems), written out: core
                # apps import no workflow app
                return JsonResponse(
                    {
                        "type": "about:blank",
                        "title": "Forbidden",
                        "status": 403,
                        "detail": "Staff must complete two-factor sign-in in the web app first.",
                        "code": "otp_required",
                        "errors": {},
                    },
                    status=403,
                    content_type="application/problem+json",
                )
            return redirect(f"{reverse('accounts:two_factor')}?next={request.path}")
        return self.get_response(request)

    @staticmethod
    def _needs_verification(request) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not (user.is_staff or is_staff_member(user)):
            return False
        if user.is_verified():
            return False
        return not request.path.startswith(_OPEN_BEFORE_SECOND_FACTOR)
