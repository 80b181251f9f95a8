"""The one policy: may this person do this act on this program's objects?

Every service that acts for a person asks `authorize` before it writes, so the portal,
the API, admin actions and tasks cannot disagree: a side door would need a second write
path, and there is none. The policy knows four things and nothing else:

- the act, from a short closed list (`Act`);
- the program, resolved by the caller from the object acted on;
- the person's roles: site-wide groups (admin, finance) and per-program staff rows;
- whether the person passed their second factor, when staff must (`STAFF_2FA_REQUIRED`):
  a session marks it through django-otp, a bearer token through the flag it was minted
  with (see tester_platform.api.authentication).

and one rule that no role overrides: nobody acts on anything about themself (the actor is
never the subject). `actor=None` is the platform itself (beat deadlines, automatic flags):
those paths were authorized by configuration, not by a person.

Denials are domain errors: staff of other programs get 404 (this program's objects'
existence is not theirs to learn), everything else 403 with a code saying why."""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.db.models import QuerySet

from tester_platform.accounts.roles import ADMIN, FINANCE, has_role, is_staff_member
from tester_platform.errors import NotAllowed, NotFound
from tester_platform.programs.models import Program, ProgramStaff


class Act(StrEnum):
    # Decide share requests and appeals, review feedback and time: moderators and managers.
    REVIEW = "review"
    # Program settings, the kill switch, invitations, applications, enrollments, rate
    # cards, consent documents, access flags, marketing licences: managers.
    MANAGE = "manage"
    # Make someone a manager of a program: admins only (a manager cannot widen their reach).
    GRANT_MANAGER = "grant_manager"
    # Read a program's staff pages and audit trail: any staff of it, finance.
    READ = "read"
    # Payout runs, reports, reconciliation: finance (site-wide; money is not per program).
    FINANCE = "finance"


_PROGRAM_ROLES: dict[Act, tuple[str, ...]] = {
    Act.REVIEW: (ProgramStaff.Role.MODERATOR, ProgramStaff.Role.MANAGER),
    Act.MANAGE: (ProgramStaff.Role.MANAGER,),
    Act.READ: (ProgramStaff.Role.MODERATOR, ProgramStaff.Role.MANAGER),
    Act.GRANT_MANAGER: (),
    Act.FINANCE: (),
}
# Site-wide roles that reach every program for an act.
_SITE_ROLES: dict[Act, tuple[str, ...]] = {
    Act.REVIEW: (ADMIN,),
    Act.MANAGE: (ADMIN,),
    Act.READ: (ADMIN, FINANCE),
    Act.GRANT_MANAGER: (ADMIN,),
    Act.FINANCE: (ADMIN, FINANCE),
}


class PolicyDenied(NotAllowed):
    code = "forbidden"


class SecondFactorRequired(PolicyDenied):
    code = "otp_required"


class SelfDealing(PolicyDenied):
    code = "self_dealing"


def second_factor_passed(user) -> bool:
    """Has this staff member passed their second factor for the request at hand? Artists
    (no staff role) always have; when STAFF_2FA_REQUIRED is off, everyone has."""
    if not settings.STAFF_2FA_REQUIRED or not (user.is_staff or is_staff_member(user)):
        return True
    is_verified = getattr(user, "is_verified", None)
    # Fail closed: a user object that no entry point marked (a script, a task) has not.
    return bool(is_verified()) if callable(is_verified) else False


def programs_for(user, act: Act = Act.READ) -> QuerySet[Program]:
    """The programs where `user` may do `act`: the one answer to "which programs can this
    staff member see" that every page, API list and service shares."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Program.objects.none()
    if has_role(user, *_SITE_ROLES[act]):
        return Program.objects.all()
    roles = _PROGRAM_ROLES[act]
    if not roles:
        return Program.objects.none()
    return Program.objects.filter(pk__in=ProgramStaff.objects.filter(user=user, role__in=roles).values("program_id"))


def _has_act(user, act: Act, program_id: int | None) -> bool:
    if has_role(user, *_SITE_ROLES[act]):
        return True
    roles = _PROGRAM_ROLES[act]
    if program_id is None or not roles:
        return False
    return ProgramStaff.objects.filter(user=user, program_id=program_id, role__in=roles).exists()


def _program_id(program) -> int | None:
    if program is None or isinstance(program, int):
        return program
    return program.pk


def authorize(actor, act: Act, *, program=None, subject=None) -> None:
    """Raise unless `actor` may do `act` on `program`'s object about `subject`.

    `program` is a Program or its id (None for site-wide acts); `subject` is the person the
    object is about (the artist whose share, report, time or flag it is), or None."""
    if actor is None:  # the platform itself: beat deadlines, automatic suspensions
        return
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PolicyDenied("Sign in first.", code="not_authenticated")
    program_id = _program_id(program)
    if not _has_act(actor, act, program_id):
        # Staff of other programs do not learn that this program's objects exist; anyone
        # else (an artist of the program) is simply told no.
        if (
            program_id is not None
            and is_staff_member(actor)
            and not programs_for(actor, Act.READ).filter(pk=program_id).exists()
        ):
            raise NotFound("No such object among your programs.")
        raise PolicyDenied(_DENIED[act])
    if not second_factor_passed(actor):
        raise SecondFactorRequired("Staff must pass two-factor sign-in before staff actions.")
    subject_id = getattr(subject, "pk", subject)
    if subject_id is not None and subject_id == actor.pk:
        raise SelfDealing("Nobody decides, reviews or re-rates anything about themself.")


def can(actor, act: Act, *, program=None, subject=None) -> bool:
    """`authorize` as a yes/no, for pages that show or hide a button."""
    try:
        authorize(actor, act, program=program, subject=subject)
    except (NotAllowed, NotFound):
        return False
    return True


_DENIED = {
    Act.REVIEW: "Only moderators and managers of this program review its testers' work.",
    Act.MANAGE: "Only managers of this program can do that.",
    Act.GRANT_MANAGER: "Only an administrator grants the program manager role.",
    Act.READ: "Only staff of this program can see that.",
    Act.FINANCE: "Only finance staff can do that.",
}
