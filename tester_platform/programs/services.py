"""Write paths for programs, invitations, applications and enrollments."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from generation.conf import get_profile
from generation.errors import GenerationError, ModelProfileError
from generation.presets import (
    ASPECT_RATIOS,
    MAX_DURATION_SECONDS,
    MIN_DURATION_SECONDS,
    RESOLUTIONS,
    frame_size,
    frames_for_duration,
)
from generation.services import jobs_cancel_queued
from tester_platform.accounts.roles import ARTIST, MODERATOR, PROGRAM_MANAGER
from tester_platform.accounts.services import user_grant_role
from tester_platform.audit.services import audit_record
from tester_platform.errors import Conflict, InvalidInput, InvalidTransition, NotAllowed
from tester_platform.notifications.models import Kind
from tester_platform.notifications.services import notify, notify_many
from tester_platform.policy import Act, authorize
from tester_platform.programs.models import Application, Enrollment, Invitation, Program, ProgramStaff

INVITATION_TTL = timedelta(days=14)


class InvitationInvalid(InvalidInput):
    code = "invitation_invalid"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, program: Program, email: str, invited_by=None) -> tuple[Invitation, str]:
    """Create an invitation and email its link (through the worker, after commit).
    Returns the raw token once; only its hash is stored."""
    authorize(invited_by, Act.MANAGE, program=program)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        program=program,
        email=email.strip().lower(),
        token_hash=hash_token(token),
        invited_by=invited_by,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    audit_record(
        action="invitation.created",
        actor=invited_by,
        program=program,
        target=invitation,
        data={"email": invitation.email},
    )
    from tester_platform.programs.tasks import send_invitation_email

    transaction.on_commit(lambda: send_invitation_email.delay(invitation.pk, token))
    return invitation, token


def invitation_for_token(token: str, *, for_update: bool = False) -> Invitation:
    """The usable invitation behind a token, or InvitationInvalid saying why not."""
    if not token or len(token) > 200:
        raise InvitationInvalid("This invitation link is not valid.")
    qs = Invitation.objects.select_related("program")
    if for_update:
        qs = qs.select_for_update()
    invitation = qs.filter(token_hash=hash_token(token)).first()
    if invitation is None:
        raise InvitationInvalid("This invitation link is not valid.")
    if invitation.revoked_at:
        raise InvitationInvalid("This invitation was withdrawn by the program.")
    if invitation.accepted_at:
        raise InvitationInvalid("This invitation has already been used.", code="invitation_used")
    if invitation.expires_at <= timezone.now():
        raise InvitationInvalid(
            "This invitation has expired; ask the program for a new one.", code="invitation_expired"
        )
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user) -> Enrollment:
    invitation = invitation_for_token(token, for_update=True)
    if invitation.email != user.email.lower():
        raise NotAllowed(f"This invitation was sent to {invitation.email}; sign in with that address.")
    if invitation.program.status in (Program.Status.CLOSED, Program.Status.DRAFT):
        raise InvitationInvalid("This program is not taking testers.")
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    enrollment = enrollment_start(program=invitation.program, artist=user, actor=user, via="invitation")
    return enrollment


@transaction.atomic
def enrollment_start(*, program: Program, artist, actor, via: str) -> Enrollment:
    enrollment, created = Enrollment.objects.get_or_create(program=program, artist=artist)
    if not created and enrollment.status in (Enrollment.Status.SUSPENDED,):
        raise NotAllowed("Your participation in this program is suspended.")
    if not created and enrollment.status == Enrollment.Status.LEFT:
        enrollment.status = Enrollment.Status.ONBOARDING
        enrollment.save(update_fields=["status"])
    user_grant_role(user=artist, role=ARTIST)
    audit_record(
        action="enrollment.started", actor=actor, subject=artist, program=program, target=enrollment, data={"via": via}
    )
    return enrollment


@transaction.atomic
def enrollment_activate(*, enrollment: Enrollment, actor) -> Enrollment:
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if enrollment.status == Enrollment.Status.ACTIVE:
        return enrollment
    if enrollment.status != Enrollment.Status.ONBOARDING:
        raise InvalidTransition(f"An enrollment that is {enrollment.status} cannot become active.")
    enrollment.status = Enrollment.Status.ACTIVE
    enrollment.activated_at = timezone.now()
    enrollment.save(update_fields=["status", "activated_at"])
    audit_record(
        action="enrollment.activated",
        actor=actor,
        subject=enrollment.artist,
        program=enrollment.program,
        target=enrollment,
    )
    return enrollment


@transaction.atomic
def application_submit(*, program: Program, artist, portfolio_url: str, statement: str) -> Application:
    if program.status != Program.Status.RECRUITING:
        raise InvalidInput("This program is not open to applications.", field="program")
    if Enrollment.objects.filter(program=program, artist=artist).exists():
        raise Conflict("You are already part of this program.")
    try:
        with transaction.atomic():
            application = Application.objects.create(
                program=program, artist=artist, portfolio_url=portfolio_url, statement=statement
            )
    except IntegrityError:
        raise Conflict("You already have an application waiting for a decision.") from None
    audit_record(action="application.submitted", actor=artist, subject=artist, program=program, target=application)
    return application


@transaction.atomic
def application_decide(*, application: Application, decided_by, accept: bool, reason: str = "") -> Application:
    application = Application.objects.select_for_update().select_related("program", "artist").get(pk=application.pk)
    authorize(decided_by, Act.MANAGE, program=application.program, subject=application.artist)
    if application.status != Application.Status.SUBMITTED:
        raise InvalidTransition("This application has already been decided.")
    if not accept and not reason.strip():
        raise InvalidInput("Give the artist a reason when declining.", field="reason")
    application.status = Application.Status.ACCEPTED if accept else Application.Status.DECLINED
    application.decided_by = decided_by
    application.decided_at = timezone.now()
    application.reason = reason
    application.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    audit_record(
        action=f"application.{application.status}",
        actor=decided_by,
        subject=application.artist,
        program=application.program,
        target=application,
        data={"reason": reason},
    )
    if accept:
        enrollment_start(program=application.program, artist=application.artist, actor=decided_by, via="application")
    return application


@transaction.atomic
def program_set_paused(*, program: Program, actor, paused: bool, reason: str = "") -> Program:
    """The kill switch: a paused program refuses new generations at once."""
    program = Program.objects.select_for_update().get(pk=program.pk)
    authorize(actor, Act.MANAGE, program=program)
    if paused:
        if program.status == Program.Status.PAUSED:
            return program
        if program.status != Program.Status.ACTIVE:
            raise InvalidTransition(f"Only an active program can be paused (this one is {program.status}).")
        program.status, program.paused_at = Program.Status.PAUSED, timezone.now()
    else:
        if program.status == Program.Status.ACTIVE:
            return program
        if program.status != Program.Status.PAUSED:
            raise InvalidTransition(f"Only a paused program can be resumed (this one is {program.status}).")
        program.status, program.paused_at = Program.Status.ACTIVE, None
    program.save(update_fields=["status", "paused_at"])
    cancelled = jobs_cancel_queued(program_id=program.pk, actor=actor) if paused else []
    audit_record(
        action="program.paused" if paused else "program.resumed",
        actor=actor,
        program=program,
        target=program,
        data={"reason": reason, "cancelled_jobs": cancelled},
    )
    _tell_testers_paused(program, paused=paused, reason=reason, cancelled=cancelled)
    return program


def _tell_testers_paused(program: Program, *, paused: bool, reason: str, cancelled) -> None:
    testers = [
        e.artist
        for e in Enrollment.objects.filter(
            program=program, status__in=[Enrollment.Status.ONBOARDING, Enrollment.Status.ACTIVE]
        ).select_related("artist")
    ]
    if paused:
        lines = [f"{program.name} is paused: new generations are refused until it resumes."]
        if reason.strip():
            lines.append(f"Reason: {reason.strip()}")
        lines.append(
            "Queued jobs were cancelled and not charged to your quota. Your outputs, earnings and "
            "pending reviews are unaffected."
        )
        title, kind = f"{program.name} is paused", Kind.PROGRAM_PAUSED
    else:
        lines = [f"{program.name} resumed: you can generate again."]
        if reason.strip():
            lines.append(f"Note: {reason.strip()}")
        title, kind = f"{program.name} resumed", Kind.PROGRAM_RESUMED
    notify_many(
        users=testers,
        kind=kind,
        title=title,
        body="\n".join(lines),
        program=program,
        link=reverse("portal:program", args=[program.slug]),
    )


@transaction.atomic
def enrollment_suspend(*, enrollment: Enrollment, actor, reason: str) -> Enrollment:
    """Stop one artist generating in one program, at once: the next submission is refused
    and their queued jobs are cancelled. Everyone else keeps working."""
    enrollment = Enrollment.objects.select_for_update().select_related("program", "artist").get(pk=enrollment.pk)
    authorize(actor, Act.MANAGE, program=enrollment.program, subject=enrollment.artist)
    if not reason.strip():
        raise InvalidInput("Say why, so the artist and the other staff know.", field="reason")
    if enrollment.status == Enrollment.Status.SUSPENDED:
        return enrollment
    if enrollment.status not in (Enrollment.Status.ACTIVE, Enrollment.Status.ONBOARDING):
        raise InvalidTransition(f"An enrollment that is {enrollment.status} cannot be suspended.")
    enrollment.suspended_from = enrollment.status
    enrollment.status = Enrollment.Status.SUSPENDED
    enrollment.suspended_reason = reason.strip()
    enrollment.save(update_fields=["status", "suspended_reason", "suspended_from"])
    cancelled = jobs_cancel_queued(program_id=enrollment.program_id, artist_id=enrollment.artist_id, actor=actor)
    audit_record(
        action="enrollment.suspended",
        actor=actor,
        subject=enrollment.artist,
        program=enrollment.program,
        target=enrollment,
        data={"reason": enrollment.suspended_reason, "cancelled_jobs": cancelled},
    )
    notify(
        user=enrollment.artist,
        kind=Kind.ENROLLMENT_SUSPENDED,
        program=enrollment.program,
        title=f"Your participation in {enrollment.program.name} is suspended",
        body=f"Reason: {enrollment.suspended_reason}\nYou cannot generate in this program until staff reinstate "
        "you; queued jobs were cancelled. Your outputs and earnings stay yours. Reply to the program's staff "
        "if you think this is a mistake.",
        link=reverse("portal:home"),
    )
    return enrollment


@transaction.atomic
def enrollment_reinstate(*, enrollment: Enrollment, actor, note: str = "") -> Enrollment:
    enrollment = Enrollment.objects.select_for_update().select_related("program", "artist").get(pk=enrollment.pk)
    authorize(actor, Act.MANAGE, program=enrollment.program, subject=enrollment.artist)
    if enrollment.status != Enrollment.Status.SUSPENDED:
        raise InvalidTransition("Only a suspended enrollment can be reinstated.")
    enrollment.status = enrollment.suspended_from or Enrollment.Status.ACTIVE
    enrollment.suspended_reason = ""
    enrollment.save(update_fields=["status", "suspended_reason"])
    audit_record(
        action="enrollment.reinstated",
        actor=actor,
        subject=enrollment.artist,
        program=enrollment.program,
        target=enrollment,
        data={"note": note},
    )
    notify(
        user=enrollment.artist,
        kind=Kind.ENROLLMENT_REINSTATED,
        program=enrollment.program,
        title=f"You are reinstated in {enrollment.program.name}",
        body="You can generate again." + (f"\nNote from the staff: {note.strip()}" if note.strip() else ""),
        link=reverse("portal:home"),
    )
    return enrollment


# --- program settings ----------------------------------------------------------------------

SETTINGS_FIELDS = (
    "name",
    "description",
    "daily_compute_seconds",
    "max_concurrent_jobs",
    "max_resolution",
    "max_duration_seconds",
    "share_review_hours",
    "share_approve_on_expiry",
)
# (lowest, highest) a manager may set; the model profile narrows the two caps further.
SETTINGS_RANGES = {
    "daily_compute_seconds": (1, 24 * 3600),
    "max_concurrent_jobs": (1, 32),
    "max_duration_seconds": (MIN_DURATION_SECONDS, MAX_DURATION_SECONDS),
    "share_review_hours": (1, 30 * 24),
}


def _profile_of(program: Program):
    try:
        return get_profile(program.model_profile, check_dir=False)
    except ModelProfileError:
        raise InvalidInput(
            f"This program's model profile {program.model_profile!r} is not configured here, so "
            "its limits cannot be checked; ask an administrator.",
            field="max_resolution",
        ) from None


def _renders(resolution: str, profile) -> bool:
    """Can the profile make this resolution at every aspect ratio an artist may choose?"""
    try:
        for ratio in ASPECT_RATIOS:
            frame_size(ratio, resolution, profile=profile)
    except GenerationError:
        return False
    return True


def _fits_duration(seconds: int, profile) -> bool:
    try:
        frames_for_duration(seconds, profile=profile)
    except GenerationError:
        return False
    return True


def program_caps(program: Program) -> dict:
    """What the program's model profile can make: the resolutions (at every aspect ratio)
    and the longest whole-second duration, for the settings form's hints."""
    try:
        profile = get_profile(program.model_profile, check_dir=False)
    except ModelProfileError:
        return {"profile": program.model_profile, "resolutions": [], "max_duration_seconds": None}
    durations = [s for s in range(MIN_DURATION_SECONDS, MAX_DURATION_SECONDS + 1) if _fits_duration(s, profile)]
    return {
        "profile": profile.label or profile.key,
        "resolutions": [r for r in RESOLUTIONS if _renders(r, profile)],
        "max_duration_seconds": max(durations) if durations else None,
    }


def _clean_settings(program: Program, fields: dict) -> dict:
    unknown = sorted(set(fields) - set(SETTINGS_FIELDS))
    if unknown:
        raise InvalidInput(f"Not a program setting: {', '.join(unknown)}.", field=unknown[0])
    cleaned = {}
    for name, value in fields.items():
        if name == "name":
            value = (value or "").strip()
            if not value or len(value) > 120:
                raise InvalidInput("Give the program a name of at most 120 characters.", field=name)
        elif name == "description":
            value = (value or "").strip()
            if len(value) > 20000:
                raise InvalidInput("Keep the description under 20,000 characters.", field=name)
        elif name == "share_approve_on_expiry":
            if not isinstance(value, bool):
                raise InvalidInput("Choose yes or no.", field=name)
        elif name == "max_resolution":
            if value not in Program.Resolution.values:
                raise InvalidInput(f"Choose one of {', '.join(Program.Resolution.values)}.", field=name)
        else:
            low, high = SETTINGS_RANGES[name]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise InvalidInput(f"Enter a whole number from {low} to {high}.", field=name)
        cleaned[name] = value
    # The caps are checked against the model only when they change: a program whose
    # profile was narrowed later can still have its name edited.
    if "max_resolution" in cleaned and cleaned["max_resolution"] != program.max_resolution:
        profile = _profile_of(program)
        if not _renders(cleaned["max_resolution"], profile):
            possible = [r for r in RESOLUTIONS if _renders(r, profile)]
            raise InvalidInput(
                f"The model {profile.label or profile.key} cannot render {cleaned['max_resolution']} at every aspect "
                f"ratio (it makes at most {profile.max_width}×{profile.max_height} px); choose "
                f"{' or '.join(possible) or 'another profile'}.",
                field="max_resolution",
            )
    if "max_duration_seconds" in cleaned and cleaned["max_duration_seconds"] != program.max_duration_seconds:
        profile = _profile_of(program)
        if not _fits_duration(cleaned["max_duration_seconds"], profile):
            longest = program_caps(program)["max_duration_seconds"]
            raise InvalidInput(
                f"The model {profile.label or profile.key} makes videos (clips of up to {profile.max_frames} frames "
                f"at {profile.fps} fps, longer ones chained) of {longest or 'no whole number of'} seconds at most.",
                field="max_duration_seconds",
            )
    return cleaned


@transaction.atomic
def program_update_settings(*, program: Program, actor, **fields) -> Program:
    """Change a program's description, quota policy and share policy. Only what changed is
    written and audited (each field's value before and after)."""
    program = Program.objects.select_for_update().get(pk=program.pk)
    authorize(actor, Act.MANAGE, program=program)
    cleaned = _clean_settings(program, fields)
    changes = {
        name: {"before": getattr(program, name), "after": value}
        for name, value in cleaned.items()
        if getattr(program, name) != value
    }
    if not changes:
        return program
    for name, change in changes.items():
        setattr(program, name, change["after"])
    program.save(update_fields=list(changes))
    audit_record(
        action="program.settings_updated", actor=actor, program=program, target=program, data={"changes": changes}
    )
    return program


# --- invitations: many at once, resend, revoke ----------------------------------------------

MAX_INVITATIONS_AT_ONCE = 500


class InvitationListInvalid(InvalidInput):
    """Some addresses of a list are not valid; `problems` says which (index in the list,
    message), so a form can point at the line. Nothing of the list was written."""

    code = "invitation_list_invalid"

    def __init__(self, problems: list[tuple[int, str]]):
        super().__init__(
            f"{len(problems)} of the addresses are not valid, so no invitation was sent. "
            "Correct them and send the list again.",
            field="emails",
        )
        self.problems = problems


@dataclass
class InvitationBatch:
    created: list[Invitation] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (address, why)


def invitation_is_open(invitation: Invitation, *, now=None) -> bool:
    return (
        invitation.accepted_at is None
        and invitation.revoked_at is None
        and invitation.expires_at > (now or timezone.now())
    )


@transaction.atomic
def invitation_create_many(*, program: Program, emails: Sequence[str], invited_by) -> InvitationBatch:
    """Invite a list of addresses in one transaction: every address is checked first and
    one bad address writes nothing (InvitationListInvalid names each). Addresses listed
    twice, already invited (an open invitation) or already in the program are skipped."""
    program = Program.objects.select_for_update().get(pk=program.pk)
    authorize(invited_by, Act.MANAGE, program=program)
    if not emails:
        raise InvalidInput("Give at least one email address.", field="emails")
    if len(emails) > MAX_INVITATIONS_AT_ONCE:
        raise InvalidInput(
            f"At most {MAX_INVITATIONS_AT_ONCE} addresses at once ({len(emails)} given).", field="emails"
        )
    problems, addresses = [], []
    for index, raw in enumerate(emails):
        address = (raw or "").strip().lower()
        try:
            if len(address) > 254:
                raise ValidationError("too long")
            validate_email(address)
        except ValidationError:
            problems.append((index, f"“{(raw or '').strip()[:80]}” is not a valid email address."))
        addresses.append(address)
    if problems:
        raise InvitationListInvalid(problems)
    now = timezone.now()
    invited = {
        i.email
        for i in Invitation.objects.filter(program=program, email__in=addresses)
        if invitation_is_open(i, now=now)
    }
    enrolled = set(
        Enrollment.objects.filter(program=program, artist__email__in=addresses)
        .exclude(status=Enrollment.Status.LEFT)
        .values_list("artist__email", flat=True)
    )
    enrolled = {e.lower() for e in enrolled}
    batch, seen = InvitationBatch(), set()
    for address in addresses:
        if address in seen:
            batch.skipped.append((address, "listed more than once"))
        elif address in invited:
            batch.skipped.append((address, "already invited (the invitation is still open)"))
        elif address in enrolled:
            batch.skipped.append((address, "already in the program"))
        else:
            invitation, _ = invitation_create(program=program, email=address, invited_by=invited_by)
            batch.created.append(invitation)
        seen.add(address)
    return batch


def _invitation_for_change(invitation: Invitation, actor) -> Invitation:
    invitation = Invitation.objects.select_for_update().select_related("program").get(pk=invitation.pk)
    authorize(actor, Act.MANAGE, program=invitation.program)
    if invitation.accepted_at:
        raise InvalidTransition("This invitation was already accepted.")
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor) -> Invitation:
    """Withdraw an invitation: its link stops working (and an email still queued is not sent)."""
    invitation = _invitation_for_change(invitation, actor)
    if invitation.revoked_at:
        return invitation
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        action="invitation.revoked",
        actor=actor,
        program=invitation.program,
        target=invitation,
        data={"email": invitation.email},
    )
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor) -> tuple[Invitation, str]:
    """Send the address a fresh link: a new invitation (new token, new expiry) replaces the
    old one, which is revoked, so a forwarded old link stops working."""
    invitation = _invitation_for_change(invitation, actor)
    if invitation.revoked_at:
        raise InvalidTransition("This invitation was revoked; invite the address again instead.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    new, token = invitation_create(program=invitation.program, email=invitation.email, invited_by=actor)
    audit_record(
        action="invitation.resent",
        actor=actor,
        program=invitation.program,
        target=new,
        data={"email": new.email, "replaces": invitation.pk},
    )
    return new, token


# --- program staff ------------------------------------------------------------------------

_STAFF_GROUPS = {ProgramStaff.Role.MODERATOR: MODERATOR, ProgramStaff.Role.MANAGER: PROGRAM_MANAGER}


def _staff_act(role: str) -> Act:
    # A manager may add moderators; only an administrator makes (or unmakes) a manager.
    return Act.GRANT_MANAGER if role == ProgramStaff.Role.MANAGER else Act.MANAGE


@transaction.atomic
def program_staff_grant(*, program: Program, user, role: str, actor) -> ProgramStaff:
    if role not in ProgramStaff.Role.values:
        raise InvalidInput("Choose the moderator or the program manager role.", field="role")
    authorize(actor, _staff_act(role), program=program, subject=user)
    if not user.is_active:
        raise InvalidInput("This account is deactivated.", field="email")
    try:
        with transaction.atomic():
            staff = ProgramStaff.objects.create(program=program, user=user, role=role)
    except IntegrityError:
        raise Conflict(
            f"{user.email} is already {ProgramStaff.Role(role).label.lower()} of this program.", field="email"
        ) from None
    user_grant_role(user=user, role=_STAFF_GROUPS[role])
    audit_record(
        action="program.staff_granted",
        actor=actor,
        subject=user,
        program=program,
        target=staff,
        data={"role": role, "email": user.email},
    )
    return staff


@transaction.atomic
def program_staff_revoke(*, staff: ProgramStaff, actor) -> None:
    """Take one per-program role away. When it was the person's last role of that kind,
    the site-wide group goes too, so the staff pages close to them."""
    staff = ProgramStaff.objects.select_for_update().select_related("program", "user").get(pk=staff.pk)
    authorize(actor, _staff_act(staff.role), program=staff.program, subject=staff.user)
    audit_record(
        action="program.staff_revoked",
        actor=actor,
        subject=staff.user,
        program=staff.program,
        target=staff,
        data={"role": staff.role, "email": staff.user.email},
    )
    user, role = staff.user, staff.role
    staff.delete()
    if not ProgramStaff.objects.filter(user=user, role=role).exists():
        group = Group.objects.filter(name=_STAFF_GROUPS[role]).first()
        if group is not None:
            user.groups.remove(group)
        if hasattr(user, "_atelier_roles"):
            del user._atelier_roles
