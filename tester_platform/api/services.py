from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tester_platform.api.models import ApiToken
from tester_platform.audit.services import audit_record
from tester_platform.errors import InvalidInput, InvalidTransition
from tester_platform.policy import SecondFactorRequired, second_factor_passed

TOKEN_PREFIX = "atl_"


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def token_create(
    *,
    user,
    name: str = "",
    scopes: list[str] | None = None,
    ttl_days: int | None = None,
    ip_address: str | None = None,
    second_factor: bool = False,
) -> tuple[ApiToken, str]:
    """Mint a token; the raw value is returned once and never stored. `second_factor` says
    the caller has just seen the user pass theirs (an OTP-verified session, or a code sent
    with the request); staff get no token without it while staff 2FA is required."""
    if not second_factor and not second_factor_passed(user):
        raise SecondFactorRequired(
            "Staff tokens need your second factor: create the token from the web app "
            "after two-factor sign-in, or send the current code as `otp`."
        )
    scopes = list(ApiToken.ALL_SCOPES if scopes is None else scopes)
    unknown = sorted(set(scopes) - set(ApiToken.ALL_SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"Scopes must be among {', '.join(ApiToken.ALL_SCOPES)}.", field="scopes")
    ttl = settings.API_TOKEN_TTL_DAYS if ttl_days is None else ttl_days
    if not 1 <= ttl <= settings.API_TOKEN_TTL_DAYS:
        raise InvalidInput(f"Tokens live 1 to {settings.API_TOKEN_TTL_DAYS} days.", field="ttl_days")
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user,
        name=name[:80],
        prefix=prefix,
        token_hash=token_digest(raw),
        scopes=scopes,
        expires_at=timezone.now() + timedelta(days=ttl),
        second_factor_at=timezone.now() if second_factor else None,
    )
    audit_record(
        action="api_token.created",
        actor=user,
        subject=user,
        target=token,
        data={"prefix": prefix, "scopes": scopes, "ip": ip_address, "second_factor": second_factor},
    )
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken, actor) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at:
        raise InvalidTransition("This token is already revoked.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        action="api_token.revoked", actor=actor, subject=token.user, target=token, data={"prefix": token.prefix}
    )
    return token


def otp_code_valid(*, user, code: str | None) -> bool:
    """Does `code` match one of the user's confirmed authenticator devices now? (Each code
    is accepted once: django-otp's TOTP devices refuse a replay of the last one used.)"""
    if not code:
        return False
    from django_otp import devices_for_user

    return any(device.verify_token(code) for device in devices_for_user(user, confirmed=True))
