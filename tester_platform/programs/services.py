"""Write paths for programs, invitations, applications and enrollments."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from generation.services import jobs_cancel_queued

from tester_platform.accounts.roles import ARTIST
from tester_platform.accounts.services import user_grant_role
from tester_platform.audit.services import audit_record
from tester_platform.errors import Conflict, InvalidInput, InvalidTransition, NotAllowed
from tester_platform.policy import Act, authorize
from tester_platform.programs.models import Application, Enrollment, Invitation, Program

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
    audit_record(action="invitation.created", actor=invited_by, program=program, target=invitation,
                 data={"email": invitation.email})
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
        raise InvitationInvalid("This invitation has expired; ask the program for a new one.", code="invitation_expired")
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
    audit_record(action="enrollment.started", actor=actor, subject=artist, program=program, target=enrollment,
                 data={"via": via})
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
    audit_record(action="enrollment.activated", actor=actor, subject=enrollment.artist, program=enrollment.program,
                 target=enrollment)
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
    audit_record(action=f"application.{application.status}", actor=decided_by, subject=application.artist,
                 program=application.program, target=application, data={"reason": reason})
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
    audit_record(action="program.paused" if paused else "program.resumed", actor=actor, program=program, target=program,
                 data={"reason": reason, "cancelled_jobs": cancelled})
    return program


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
    audit_record(action="enrollment.suspended", actor=actor, subject=enrollment.artist, program=enrollment.program,
                 target=enrollment, data={"reason": enrollment.suspended_reason, "cancelled_jobs": cancelled})
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
    audit_record(action="enrollment.reinstated", actor=actor, subject=enrollment.artist, program=enrollment.program,
                 target=enrollment, data={"note": note})
    return enrollment
