from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions

from tester_platform.accounts.roles import is_staff_member
from tester_platform.api.models import ApiToken
from tester_platform.api.services import TOKEN_PREFIX, token_digest
from tester_platform.api.signals import token_used
from tester_platform.common.http import client_ip

# Writing last-use on every request would turn reads into writes; a minute is precise enough.
_LAST_USED_GRANULARITY = timedelta(seconds=60)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2 or not parts[1].startswith(TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed("Malformed bearer token.")
        token = ApiToken.objects.select_related("user").filter(token_hash=token_digest(parts[1])).first()
        now = timezone.now()
        if token is None or token.revoked_at is not None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed("This token has expired; create a new one.")
        if token.suspended_at is not None:
            raise exceptions.AuthenticationFailed(
                f"This token is suspended: {token.suspended_reason} Your other tokens still work; "
                "staff have been told and will review it."
            )
        user = token.user
        if settings.STAFF_2FA_REQUIRED and (user.is_staff or is_staff_member(user)):
            fresh_after = now - timedelta(hours=settings.STAFF_TOKEN_2FA_HOURS)
            if token.second_factor_at is None or token.second_factor_at <= fresh_after:
                raise exceptions.AuthenticationFailed(
                    "Staff tokens last as long as the second factor they were made with: create a new one with "
                    "your current authenticator code.",
                    code="otp_required",
                )
        # What the one policy reads: this request carries a passed second factor, or not.
        verified = token.second_factor_at is not None
        user.is_verified = lambda: verified
        ip = client_ip(request)
        if token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY or token.last_used_ip != ip:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip)
        token_used.send(
            sender=ApiToken, token_id=token.pk, ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", ""), now=now
        )
        return user, token

    def authenticate_header(self, request):
        return self.keyword
