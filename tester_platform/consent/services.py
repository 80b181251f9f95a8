"""Consent: signing, withdrawing, publishing versions, and the check every generation
passes through (`consent_required`)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tester_platform.audit.services import audit_record
from tester_platform.consent.models import ConsentDocument, ConsentRecord
from tester_platform.errors import InvalidInput, InvalidTransition, NotAllowed
from tester_platform.policy import Act, authorize
from tester_platform.programs.models import Enrollment, Program
from tester_platform.programs.services import enrollment_activate


class ConsentRequired(NotAllowed):
    code = "consent_required"


def current_document(*, program) -> ConsentDocument | None:
    return ConsentDocument.objects.filter(program=program, published_at__isnull=False).order_by("-version").first()


def latest_record(*, artist, program) -> ConsentRecord | None:
    return (
        ConsentRecord.objects.filter(artist=artist, program=program).select_related("document").order_by("-id").first()
    )


def active_consent(*, artist, program) -> ConsentRecord | None:
    """The record in force: the newest one is a grant, with participation, of the current version."""
    document = current_document(program=program)
    record = latest_record(artist=artist, program=program)
    if document is None or record is None:
        return None
    if record.kind != ConsentRecord.Kind.GRANT or not record.participation or record.document_id != document.pk:
        return None
    return record


def consent_required(*, artist, program) -> ConsentRecord:
    """The service-layer gate for generation: the active record, or ConsentRequired."""
    record = active_consent(artist=artist, program=program)
    if record is None:
        latest = latest_record(artist=artist, program=program)
        if latest is not None and latest.kind == ConsentRecord.Kind.WITHDRAW:
            raise ConsentRequired("You withdrew your consent for this program; sign it again to generate.")
        if latest is not None:
            raise ConsentRequired("The consent agreement has a new version; read and sign it to keep generating.")
        raise ConsentRequired("Sign the program's consent agreement before generating.")
    return record


def _enrollment_for_consent(*, artist, program) -> Enrollment:
    enrollment = Enrollment.objects.filter(artist=artist, program=program).first()
    if enrollment is None or enrollment.status in (Enrollment.Status.LEFT,):
        raise NotAllowed("You are not enrolled in this program.", code="not_enrolled")
    return enrollment


@transaction.atomic
def consent_sign(
    *,
    artist,
    program,
    document_version: int,
    participation: bool,
    training_use: bool,
    marketing_use: bool,
    ip_address: str | None = None,
    user_agent: str = "",
) -> ConsentRecord:
    enrollment = _enrollment_for_consent(artist=artist, program=program)
    document = current_document(program=program)
    if document is None:
        raise InvalidInput("This program has no published consent agreement yet.", field="program")
    if document_version != document.version:
        raise InvalidInput(
            f"Version {document_version} is not the current agreement (version {document.version}).",
            field="document_version",
        )
    if participation is not True:
        raise InvalidInput("Participation consent is required to take part.", field="participation")
    record = ConsentRecord.objects.create(
        artist=artist,
        program=program,
        document=document,
        kind=ConsentRecord.Kind.GRANT,
        participation=True,
        training_use=bool(training_use),
        marketing_use=bool(marketing_use),
        signed_at=timezone.now(),
        ip_address=ip_address,
        user_agent=(user_agent or "")[:400],
        document_sha256=document.sha256,
    )
    audit_record(
        action="consent.signed",
        actor=artist,
        subject=artist,
        program=program,
        target=record,
        data={
            "version": document.version,
            "sha256": document.sha256,
            "training_use": record.training_use,
            "marketing_use": record.marketing_use,
        },
    )
    if enrollment.status == Enrollment.Status.ONBOARDING:
        enrollment_activate(enrollment=enrollment, actor=artist)
    return record


@transaction.atomic
def consent_withdraw(*, artist, program, ip_address: str | None = None, user_agent: str = "") -> ConsentRecord:
    _enrollment_for_consent(artist=artist, program=program)
    current = active_consent(artist=artist, program=program)
    if current is None:
        raise InvalidTransition("You have no consent in force for this program to withdraw.")
    record = ConsentRecord.objects.create(
        artist=artist,
        program=program,
        document=current.document,
        kind=ConsentRecord.Kind.WITHDRAW,
        participation=False,
        training_use=False,
        marketing_use=False,
        signed_at=timezone.now(),
        ip_address=ip_address,
        user_agent=(user_agent or "")[:400],
        document_sha256=current.document_sha256,
    )
    audit_record(
        action="consent.withdrawn",
        actor=artist,
        subject=artist,
        program=program,
        target=record,
        data={"version": current.document.version},
    )
    return record


@transaction.atomic
def consent_document_draft(*, program, actor, title: str, body: str) -> ConsentDocument:
    """Write the program's one draft agreement: the unpublished version above every
    published one, created as the next version when there is none. Published versions are
    never touched (the model refuses too); publishing is consent_document_publish."""
    # The program row serialises drafts, so two managers cannot take the same version number.
    program = Program.objects.select_for_update().get(pk=program.pk)
    authorize(actor, Act.MANAGE, program=program)
    title, body = (title or "").strip(), (body or "").strip()
    if not title or len(title) > 200:
        raise InvalidInput("Give the agreement a title of at most 200 characters.", field="title")
    if not body:
        raise InvalidInput("Write the agreement's text.", field="body")
    if len(body) > 100_000:
        raise InvalidInput("Keep the agreement under 100,000 characters.", field="body")
    newest = ConsentDocument.objects.filter(program=program).order_by("-version").first()
    if newest is not None and newest.published_at is None:
        document, before = newest, newest.sha256
        document.title, document.body = title, body
        document.save()
    else:
        before = None
        document = ConsentDocument.objects.create(
            program=program, version=newest.version + 1 if newest else 1, title=title, body=body
        )
    audit_record(
        action="consent.document_drafted",
        actor=actor,
        program=program,
        target=document,
        data={"version": document.version, "title": title, "sha256": document.sha256, "previous_draft_sha256": before},
    )
    return document


@transaction.atomic
def consent_document_publish(*, document: ConsentDocument, actor) -> ConsentDocument:
    """Publish a version. Artists who signed an earlier one keep their records but must
    sign again before generating; they are told by email."""
    document = ConsentDocument.objects.select_for_update().get(pk=document.pk)
    authorize(actor, Act.MANAGE, program=document.program)
    if document.published_at:
        raise InvalidTransition("This version is already published.")
    newest = current_document(program=document.program)
    if newest is not None and newest.version >= document.version:
        raise InvalidInput(f"Publish a version above {newest.version}.", field="version")
    document.published_at = timezone.now()
    document.save()
    audit_record(
        action="consent.document_published",
        actor=actor,
        program=document.program,
        target=document,
        data={"version": document.version, "sha256": document.sha256},
    )
    _tell_testers(document)
    return document


def _tell_testers(document: ConsentDocument) -> None:
    from django.urls import reverse

    from tester_platform.notifications.models import Kind
    from tester_platform.notifications.services import notify_many

    program = document.program
    testers = [
        e.artist
        for e in Enrollment.objects.filter(
            program=program, status__in=[Enrollment.Status.ONBOARDING, Enrollment.Status.ACTIVE]
        ).select_related("artist")
    ]
    notify_many(
        users=testers,
        kind=Kind.CONSENT_VERSION,
        program=program,
        title=f"{program.name}: consent agreement v{document.version} to sign",
        body=f"{program.name} published version {document.version} of its consent agreement.\n"
        "Please read it and sign again before your next generation. Your earlier signatures stay on "
        "record.",
        link=reverse("portal:consent", args=[program.slug]),
    )
