from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from tester_platform.accounts.roles import is_staff_member

# Staff areas; an unverified staff session is sent to the 2FA step before any of them.
_PROTECTED_PREFIXES = ("/admin/", "/dashboard/", "/finance/", "/reports/")


class StaffTwoFactorMiddleware:
    """In production staff must have passed TOTP (django-otp) in this session before they
    reach staff pages or staff API actions. Artists are not affected."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.STAFF_2FA_REQUIRED and self._needs_verification(request):
            if request.path.startswith("/api/"):
                from django.http import JsonResponse

                return JsonResponse(
                    {"detail": "Staff must complete two-factor sign-in in the web app first.", "code": "otp_required"},
                    status=403,
                )
            return redirect(f"{reverse('accounts:two_factor')}?next={request.path}")
        return self.get_response(request)

    @staticmethod
    def _needs_verification(request) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not (user.is_staff or is_staff_member(user)):
            return False
        if request.user.is_verified():
            return False
        path = request.path
        if path.startswith("/api/"):
            # Token-authenticated API calls are authenticated later by DRF; only sessions count here.
            return path.startswith(("/api/v1/programs/",)) and request.method == "POST"
        return path.startswith(_PROTECTED_PREFIXES)
