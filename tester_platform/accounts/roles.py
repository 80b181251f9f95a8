"""The five roles of Atelier, as Django groups. Per-program staff duties (moderating or
managing one program) live in programs.ProgramStaff; the group says what kind of person
someone is, the membership says where they may act."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tester_platform.accounts.models import User

ARTIST = "artist"
MODERATOR = "moderator"
PROGRAM_MANAGER = "program_manager"
FINANCE = "finance"
ADMIN = "admin"

ALL_ROLES = (ARTIST, MODERATOR, PROGRAM_MANAGER, FINANCE, ADMIN)
STAFF_ROLES = (MODERATOR, PROGRAM_MANAGER, FINANCE, ADMIN)


def roles_of(user: User) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_atelier_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached.add(ADMIN)
        user._atelier_roles = cached
    return cached


def has_role(user: User, *roles: str) -> bool:
    return bool(roles_of(user) & set(roles))


def is_staff_member(user: User) -> bool:
    return has_role(user, *STAFF_ROLES)
