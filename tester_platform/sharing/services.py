"""Share approval: every transition is one service — lock the request, check its state,
write the history and the audit event, notify the artist after commit."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from generation.models import GenerationJob
from tester_platform.audit.services import audit_record
from tester_platform.errors import Conflict, InvalidInput, InvalidTransition, NotAllowed, NotFound
from tester_platform.notifications.models import Kind
from tester_platform.notifications.services import absolute_url, notify
from tester_platform.policy import Act, authorize, can
from tester_platform.programs.models import Enrollment
from tester_platform.sharing.models import DEFAULT_REASONS, RejectionReason, ReviewStep, ShareEvent, ShareRequest

Status = ShareRequest.Status
TRUSTED_MANIFEST_STATES = ("Trusted", "Valid")


# --- policy ---------------------------------------------------------------------------


def policy_steps(*, program) -> list[ReviewStep]:
    """The program's review steps; programs that configured none get automatic checks
    followed by one moderator review."""
    steps = list(ReviewStep.objects.filter(program=program).order_by("position"))
    if steps:
        return steps
    return [
        ReviewStep(program=program, position=1, kind=ReviewStep.Kind.AUTOMATIC, name="Automatic checks"),
        ReviewStep(program=program, position=2, kind=ReviewStep.Kind.MODERATORS, name="Moderator review"),
    ]


def policy_reasons(*, program) -> list[RejectionReason]:
    reasons = list(RejectionReason.objects.filter(program=program, active=True))
    if not reasons:
        with transaction.atomic():
            for position, (code, label, description) in enumerate(DEFAULT_REASONS):
                RejectionReason.objects.get_or_create(
                    program=program,
                    code=code,
                    defaults={"label": label, "description": description, "position": position},
                )
        reasons = list(RejectionReason.objects.filter(program=program, active=True))
    return reasons


def _moderator_steps(program, steps: list[ReviewStep] | None = None) -> list[ReviewStep]:
    return [s for s in (steps or policy_steps(program=program)) if s.kind == ReviewStep.Kind.MODERATORS]


def can_review(*, user, program) -> bool:
    return can(user, Act.REVIEW, program=program)


def _steps_passed_by(share_request: ShareRequest, moderator) -> bool:
    """Has this moderator already approved a step of the current review round? Each step
    of a multi-step review needs a different person, or the second pair of eyes is the first."""
    round_started = share_request.submitted_at
    return share_request.events.filter(action="step_approved", actor=moderator, created_at__gte=round_started).exists()


# --- automatic checks -------------------------------------------------------------------


def automatic_check_problems(*, job: GenerationJob) -> list[str]:
    """What stops an output from entering review at all. None of these is a matter of taste."""
    problems = []
    if job.status != GenerationJob.Status.SUCCEEDED or not job.video:
        problems.append("Only a finished video can be shared.")
    if job.manifest_validation_state and job.manifest_validation_state not in TRUSTED_MANIFEST_STATES:
        problems.append("The video's provenance manifest does not validate, so it cannot be shared as made here.")
    enrollment = Enrollment.objects.filter(program_id=job.program_id, artist_id=job.artist_id).first()
    if enrollment is None or enrollment.status == Enrollment.Status.SUSPENDED:
        problems.append("Your participation in this program is suspended.")
    return problems


# --- helpers --------------------------------------------------------------------------


def _lock(share_request: ShareRequest) -> ShareRequest:
    return (
        ShareRequest.objects.select_for_update()
        .select_related("program", "artist", "generation")
        .get(pk=share_request.pk)
    )


def _require(share_request: ShareRequest, *allowed: str, doing: str) -> None:
    if share_request.status not in allowed:
        raise InvalidTransition(f"A request that is {share_request.get_status_display().lower()} cannot be {doing}.")


def _event(share_request, *, actor, action, reason_code="", note="", decided=False) -> ShareEvent:
    now = timezone.now()
    waited = within = None
    if decided:
        waited = (now - share_request.submitted_at).total_seconds()
        within = now <= share_request.due_at
    return ShareEvent.objects.create(
        share_request=share_request,
        actor=actor,
        action=action,
        step=share_request.current_step,
        reason_code=reason_code,
        note=note,
        created_at=now,
        waited_seconds=waited,
        within_deadline=within,
    )


def _audit(share_request, *, action, actor, data=None):
    audit_record(
        action=f"share.{action}",
        actor=actor,
        subject=share_request.artist,
        program=share_request.program,
        target=share_request,
        data={"status": share_request.status, "generation": share_request.generation_id, **(data or {})},
    )


def _notify(share_request: ShareRequest) -> None:
    """Tell the artist what was decided (inbox now, email after commit), with the reason."""
    r = share_request
    what = f"generation #{r.generation_id} ({r.get_destination_display()})"
    lines = []
    if r.appeal_outcome:
        title = f"Your appeal on share request #{r.pk}: {r.get_appeal_outcome_display().lower()}"
        if r.appeal_decision_note:
            lines.append(f"Moderator's note: {r.appeal_decision_note}")
    else:
        title = f"Share request #{r.pk}: {r.get_status_display().lower()}"
    lines.insert(0, f"Your request to share {what} is now: {r.get_status_display()}.")
    if r.status == Status.APPROVED:
        if r.auto_decided:
            lines.append(
                "Nobody decided before the review deadline, so it was approved automatically, as the "
                "program's policy promises."
                if r.note.startswith("No decision")
                else f"Approved automatically: {r.note}"
            )
        elif r.note:
            lines.append(f"Moderator's note: {r.note}")
        lines.append(f"Its public page: {absolute_url(reverse('share_public', args=[r.public_slug]))}")
        lines.append("You can take it down at any time.")
    elif r.status == Status.REJECTED and not r.appeal_outcome:
        if r.reason_id:
            lines.append(f"Reason: {r.reason.label} — {r.reason.description}")
        if r.note:
            lines.append(f"Moderator's note: {r.note}")
        lines.append("You can appeal once; a different moderator will decide.")
    elif r.status == Status.CHANGES_REQUESTED:
        lines.append(f"What to change: {r.note}")
        lines.append("Resubmit when ready; the review clock starts again.")
    notify(
        user=r.artist,
        kind=Kind.SHARE_DECIDED,
        title=title,
        body="\n".join(lines),
        program=r.program,
        link=reverse("sharing:detail", args=[r.pk]),
    )


def _start_clock(share_request: ShareRequest) -> None:
    now = timezone.now()
    share_request.submitted_at = now
    share_request.due_at = now + timedelta(hours=share_request.program.share_review_hours)


def _approve(share_request: ShareRequest, *, actor, auto: bool, note: str = "") -> None:
    share_request.status = Status.APPROVED
    share_request.decided_by = actor
    share_request.decided_at = timezone.now()
    share_request.auto_decided = auto
    share_request.reason = None
    share_request.note = note
    share_request.public_slug = share_request.public_slug or secrets.token_urlsafe(12)
    from tester_platform.sharing.payments import post_share_bonus

    post_share_bonus(share_request=share_request, actor=actor)


# --- artist transitions ---------------------------------------------------------------


@transaction.atomic
def share_request_create(*, artist, generation_id: int, caption: str, destination: str) -> ShareRequest:
    job = GenerationJob.objects.select_related("program").filter(pk=generation_id, artist=artist).first()
    if job is None:
        raise NotFound("No such generation among yours.")
    caption = (caption or "").strip()
    if not caption:
        raise InvalidInput("Say in a few words what you are sharing.", field="caption")
    if destination not in ShareRequest.Destination.values:
        raise InvalidInput(f"Choose one of: {', '.join(ShareRequest.Destination.values)}.", field="destination")
    problems = automatic_check_problems(job=job)
    if problems:
        raise InvalidInput(" ".join(problems), field="generation")
    share_request = ShareRequest(
        generation=job, artist=artist, program=job.program, caption=caption[:500], destination=destination
    )
    _start_clock(share_request)
    steps = policy_steps(program=job.program)
    moderator_steps = _moderator_steps(job.program, steps)
    policy_reasons(program=job.program)  # publish the default list if the program has none yet
    share_request.current_step = moderator_steps[0].position if moderator_steps else 0
    share_request.status = Status.IN_REVIEW
    try:
        with transaction.atomic():
            share_request.save()
    except IntegrityError:
        raise Conflict("This video already has an open share request.", code="share_request_open") from None
    _event(share_request, actor=artist, action="submitted")
    if any(s.kind == ReviewStep.Kind.AUTOMATIC for s in steps):
        _event(share_request, actor=None, action="automatic_checks_passed")
    if not moderator_steps:
        _approve(share_request, actor=None, auto=True, note="No moderator step in this program's policy.")
        share_request.save()
        _notify(share_request)
    _audit(share_request, action="requested", actor=artist, data={"destination": destination})
    return share_request


@transaction.atomic
def share_request_withdraw(*, share_request: ShareRequest, artist) -> ShareRequest:
    share_request = _lock(share_request)
    if share_request.artist_id != artist.pk:
        raise NotFound("No such share request.")
    _require(
        share_request,
        Status.SUBMITTED,
        Status.IN_REVIEW,
        Status.RESUBMITTED,
        Status.CHANGES_REQUESTED,
        doing="withdrawn",
    )
    share_request.status = Status.WITHDRAWN
    share_request.save(update_fields=["status"])
    _event(share_request, actor=artist, action="withdrawn")
    _audit(share_request, action="withdrawn", actor=artist)
    return share_request


@transaction.atomic
def share_request_revoke(*, share_request: ShareRequest, artist) -> ShareRequest:
    """The artist takes an approved share down, at any time; its public page answers 410."""
    share_request = _lock(share_request)
    if share_request.artist_id != artist.pk:
        raise NotFound("No such share request.")
    _require(share_request, Status.APPROVED, doing="revoked")
    share_request.status = Status.REVOKED
    share_request.revoked_at = timezone.now()
    share_request.save(update_fields=["status", "revoked_at"])
    _event(share_request, actor=artist, action="revoked")
    _audit(share_request, action="revoked", actor=artist)
    return share_request


@transaction.atomic
def share_request_resubmit(*, share_request: ShareRequest, artist, caption: str | None = None) -> ShareRequest:
    share_request = _lock(share_request)
    if share_request.artist_id != artist.pk:
        raise NotFound("No such share request.")
    _require(share_request, Status.CHANGES_REQUESTED, doing="resubmitted")
    if caption is not None:
        caption = caption.strip()
        if not caption:
            raise InvalidInput("The caption cannot be empty.", field="caption")
        share_request.caption = caption[:500]
    share_request.status = Status.RESUBMITTED
    _start_clock(share_request)
    share_request.save(update_fields=["status", "caption", "submitted_at", "due_at"])
    _event(share_request, actor=artist, action="resubmitted")
    _audit(share_request, action="resubmitted", actor=artist)
    return share_request


@transaction.atomic
def share_request_appeal(*, share_request: ShareRequest, artist, note: str) -> ShareRequest:
    share_request = _lock(share_request)
    if share_request.artist_id != artist.pk:
        raise NotFound("No such share request.")
    _require(share_request, Status.REJECTED, doing="appealed")
    if share_request.appealed_at:
        raise InvalidTransition("A request can be appealed once, and this one already was.")
    note = (note or "").strip()
    if not note:
        raise InvalidInput("Tell the moderators why the decision should change.", field="note")
    share_request.appeal_note = note[:4000]
    share_request.appealed_at = timezone.now()
    share_request.save(update_fields=["appeal_note", "appealed_at"])
    _event(share_request, actor=artist, action="appealed", note=note)
    _audit(share_request, action="appealed", actor=artist)
    return share_request


# --- moderator transitions ------------------------------------------------------------

DECISIONS = ("approve", "reject", "request_changes")


@transaction.atomic
def share_request_decide(
    *, share_request: ShareRequest, moderator, decision: str, reason_code: str = "", note: str = ""
) -> ShareRequest:
    share_request = _lock(share_request)
    authorize(moderator, Act.REVIEW, program=share_request.program, subject=share_request.artist)
    if decision not in DECISIONS:
        raise InvalidInput(f"Decide one of: {', '.join(DECISIONS)}.", field="decision")
    _require(share_request, *ShareRequest.AWAITING_DECISION, doing="decided")
    if _steps_passed_by(share_request, moderator):
        raise NotAllowed(
            "You approved an earlier step of this review; another moderator decides this one.", code="same_moderator"
        )
    note = (note or "").strip()[:4000]
    if decision == "reject":
        reason = next((r for r in policy_reasons(program=share_request.program) if r.code == reason_code), None)
        if reason is None:
            raise InvalidInput("A refusal must cite one of the program's published reasons.", field="reason_code")
        share_request.status = Status.REJECTED
        share_request.reason = reason
    elif decision == "request_changes":
        if not note:
            raise InvalidInput("Say what should change.", field="note")
        share_request.status = Status.CHANGES_REQUESTED
        share_request.reason = None
    else:
        later = [s for s in _moderator_steps(share_request.program) if s.position > share_request.current_step]
        if later:
            # Approved at this step; the next moderator step takes over with the same deadline.
            _event(share_request, actor=moderator, action="step_approved", note=note, decided=True)
            share_request.current_step = later[0].position
            share_request.save(update_fields=["current_step"])
            _audit(share_request, action="step_approved", actor=moderator, data={"step": later[0].position})
            return share_request
        _approve(share_request, actor=moderator, auto=False, note=note)
    if decision != "approve":
        share_request.decided_by = moderator
        share_request.decided_at = timezone.now()
        share_request.auto_decided = False
        share_request.note = note
    share_request.save()
    action = {"approve": "approved", "reject": "rejected", "request_changes": "changes_requested"}[decision]
    _event(
        share_request,
        actor=moderator,
        action=action,
        reason_code=reason_code if decision == "reject" else "",
        note=note,
        decided=True,
    )
    _audit(
        share_request,
        action=action,
        actor=moderator,
        data={
            "reason": reason_code,
            "reason_label": share_request.reason.label if share_request.reason_id else "",
            "note": note,
        },
    )
    _notify(share_request)
    return share_request


@transaction.atomic
def share_appeal_decide(*, share_request: ShareRequest, moderator, overturn: bool, note: str = "") -> ShareRequest:
    share_request = _lock(share_request)
    authorize(moderator, Act.REVIEW, program=share_request.program, subject=share_request.artist)
    if not share_request.appeal_pending:
        raise InvalidTransition("There is no pending appeal on this request.")
    if share_request.decided_by_id == moderator.pk:
        raise NotAllowed("An appeal is decided by a moderator other than the one who refused.", code="same_moderator")
    share_request.appeal_decided_by = moderator
    share_request.appeal_decided_at = timezone.now()
    share_request.appeal_outcome = "overturned" if overturn else "upheld"
    share_request.appeal_decision_note = (note or "").strip()[:4000]
    if overturn:
        _approve(share_request, actor=moderator, auto=False, note=share_request.appeal_decision_note)
    share_request.save()
    _event(share_request, actor=moderator, action=f"appeal_{share_request.appeal_outcome}", note=note)
    _audit(share_request, action=f"appeal_{share_request.appeal_outcome}", actor=moderator)
    _notify(share_request)
    return share_request


@transaction.atomic
def share_requests_bulk_approve(*, ids: list[int], moderator) -> list[ShareRequest]:
    """Approve many in one action; any request that cannot be approved is left as it is."""
    approved = []
    for share_request in ShareRequest.objects.filter(pk__in=ids).order_by("pk"):
        try:
            with transaction.atomic():
                approved.append(
                    share_request_decide(share_request=share_request, moderator=moderator, decision="approve")
                )
        except (InvalidTransition, NotFound, NotAllowed):  # e.g. one's own request: left for another moderator
            continue
    return approved


# --- deadlines ------------------------------------------------------------------------


def share_requests_resolve_overdue(*, now=None) -> list[int]:
    """Requests past their deadline are decided by the program's policy (approved by
    default). Each is locked and re-checked, so a decision made meanwhile is never touched."""
    now = now or timezone.now()
    resolved = []
    overdue = ShareRequest.objects.filter(
        status__in=ShareRequest.AWAITING_DECISION, due_at__lt=now, program__share_approve_on_expiry=True
    ).values_list("pk", flat=True)
    for pk in list(overdue):
        with transaction.atomic():
            share_request = (
                ShareRequest.objects.select_for_update().select_related("program", "artist", "generation").get(pk=pk)
            )
            if share_request.status not in ShareRequest.AWAITING_DECISION or share_request.due_at >= now:
                continue
            _approve(share_request, actor=None, auto=True, note="No decision before the review deadline.")
            share_request.save()
            _event(share_request, actor=None, action="auto_approved")
            _audit(share_request, action="auto_approved", actor=None, data={"due_at": share_request.due_at})
            _notify(share_request)
            resolved.append(pk)
    return resolved
