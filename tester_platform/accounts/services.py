from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from tester_platform.accounts.models import User
from tester_platform.audit.services import audit_record
from tester_platform.errors import Conflict


def user_grant_role(*, user: User, role: str) -> None:
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    if hasattr(user, "_atelier_roles"):
        del user._atelier_roles


@transaction.atomic
def user_sign_up(*, email: str, password: str, display_name: str = "", email_verified: bool = False) -> User:
    """Create an account. `email_verified` is true when the address was proven another way
    (the artist followed an invitation link sent to it)."""
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict("An account with this email address already exists; sign in instead.", field="email")
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, display_name=display_name)
    except IntegrityError:
        raise Conflict("An account with this email address already exists; sign in instead.", field="email") from None
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=email, primary=True, verified=email_verified)
    audit_record(action="account.created", actor=user, subject=user, target=user)
    return user


@transaction.atomic
def user_update_profile(*, user: User, display_name: str, portfolio_url: str) -> User:
    user.display_name = display_name
    user.portfolio_url = portfolio_url
    user.save(update_fields=["display_name", "portfolio_url"])
    audit_record(action="profile.updated", actor=user, subject=user, target=user)
    return user


# What each staff group may do in the Django admin (programs are managed there).
ROLE_ADMIN_PERMISSIONS = {
    "program_manager": {
        "programs": ["program", "invitation", "application", "enrollment", "programstaff"],
        "consent": ["consentdocument"],
        "payments": ["ratecard"],
    },
}


def role_groups_sync() -> None:
    from django.contrib.auth.models import Permission

    from tester_platform.accounts.roles import ALL_ROLES

    for role in ALL_ROLES:
        Group.objects.get_or_create(name=role)
    for role, apps in ROLE_ADMIN_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        for app_label, models in apps.items():
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label=app_label, content_type__model__in=models)
            )
