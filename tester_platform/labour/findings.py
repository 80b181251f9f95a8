"""Findings with evidence: attachments on reports, severity re-rated by a moderator with a
reason the artist sees (the bounty follows in the ledger, once), and the private serving
of evidence files."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse

from payments.ledger import ledger_post
from payments.models import LedgerEntry, Severity
from payments.money import format_minor
from payments.selectors import current_rate_card
from tester_platform.audit.services import audit_record
from tester_platform.errors import InvalidInput, InvalidTransition, NotFound
from tester_platform.labour.evidence import Evidence, check_evidence, limits
from tester_platform.labour.models import FeedbackAttachment, FeedbackReport, SeverityRerate
from tester_platform.notifications.models import Kind
from tester_platform.notifications.services import notify
from tester_platform.policy import Act, authorize


def check_attachments(files: Sequence[tuple[str, bytes]]) -> list[tuple[str, Evidence]]:
    """Prove every file before any is stored: one bad file refuses the whole report."""
    files = list(files or ())
    if len(files) > limits().max_files:
        raise InvalidInput(
            f"Attach at most {limits().max_files} files to one report.",
            field="attachments",
            code="too_many_attachments",
        )
    return [(name, check_evidence(data, name=name)) for name, data in files]


def store_attachments(*, report: FeedbackReport, evidence: list[tuple[str, Evidence]]) -> list[FeedbackAttachment]:
    stored = []
    for name, item in evidence:
        path = f"evidence/{report.program_id}/{report.pk}/{uuid.uuid4().hex}.{item.extension}"
        # Stored inside the report's transaction: if it rolls back, the file is an orphan
        # nobody can reach (no row names it), never a row without its file.
        saved = default_storage.save(path, ContentFile(item.data))
        stored.append(
            FeedbackAttachment.objects.create(
                report=report,
                kind=item.kind,
                file=saved,
                content_type=item.content_type,
                bytes=len(item.data),
                width=item.width,
                height=item.height,
                duration_ms=item.duration_ms,
                sha256=item.sha256,
                original_name=(name or "")[:200],
            )
        )
    return stored


@transaction.atomic
def feedback_attach(*, report: FeedbackReport, artist, files: Sequence[tuple[str, bytes]]) -> list[FeedbackAttachment]:
    """Add evidence to one's own report while it waits for review."""
    report = FeedbackReport.objects.select_for_update().get(pk=report.pk)
    if report.artist_id != getattr(artist, "pk", None):
        raise NotFound("No such report among yours.")
    if report.status != FeedbackReport.Status.SUBMITTED:
        raise InvalidTransition("Evidence can be added while the report waits for review.")
    if report.attachments.count() + len(files) > limits().max_files:
        raise InvalidInput(
            f"A report holds at most {limits().max_files} files.", field="attachments", code="too_many_attachments"
        )
    stored = store_attachments(report=report, evidence=check_attachments(files))
    for attachment in stored:
        audit_record(
            action="feedback.attachment_added",
            actor=artist,
            subject=artist,
            program=report.program,
            target=report,
            data={
                "attachment": attachment.pk,
                "kind": attachment.kind,
                "sha256": attachment.sha256,
                "bytes": attachment.bytes,
            },
        )
    return stored


def _bounty_net(report: FeedbackReport) -> tuple[int, LedgerEntry | None]:
    """What the report has earned so far: its bounty and every re-rating adjustment."""
    bounty = (
        LedgerEntry.objects.filter(
            source_type=FeedbackReport.SOURCE_TYPE, source_id=str(report.pk), kind=LedgerEntry.Kind.FEEDBACK_BOUNTY
        )
        .select_related("rate_card")
        .first()
    )
    adjustments = (
        LedgerEntry.objects.filter(
            source_type=SeverityRerate.SOURCE_TYPE,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            source_id__in=[str(pk) for pk in report.rerates.values_list("pk", flat=True)],
        ).aggregate(total=Sum("amount_minor"))["total"]
        or 0
    )
    return (bounty.amount_minor if bounty else 0) + adjustments, bounty


@transaction.atomic
def feedback_rerate(*, report: FeedbackReport, moderator, severity: str, reason: str) -> SeverityRerate:
    """Change a report's severity, with a reason the artist sees. A report waiting for review
    is simply paid at the new severity when accepted; an accepted one gets exactly one
    ledger line: the difference between the new severity's bounty (on the rate card it was
    paid under) and what it had earned so far."""
    report = FeedbackReport.objects.select_for_update().select_related("program", "artist").get(pk=report.pk)
    authorize(moderator, Act.REVIEW, program=report.program, subject=report.artist)
    if severity not in Severity.values:
        raise InvalidInput(f"Choose one of: {', '.join(Severity.values)}.", field="severity")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Tell the artist why the severity changes.", field="reason")
    if len(reason) > 2000:
        raise InvalidInput("Keep the reason under 2000 characters.", field="reason")
    if report.status not in (FeedbackReport.Status.SUBMITTED, FeedbackReport.Status.ACCEPTED):
        raise InvalidTransition(f"A report that is {report.get_status_display().lower()} is not re-rated.")
    if severity == report.severity:
        raise InvalidInput(
            f"The report is already {report.get_severity_display().lower()} severity.",
            field="severity",
            code="same_severity",
        )
    rerate = SeverityRerate.objects.create(
        report=report, from_severity=report.severity, to_severity=severity, reason=reason, rerated_by=moderator
    )
    entry = None
    if report.status == FeedbackReport.Status.ACCEPTED:
        earned, bounty = _bounty_net(report)
        card = (
            bounty.rate_card
            if bounty is not None and bounty.rate_card_id
            else current_rate_card(program_id=report.program_id)
        )
        if card is not None:
            change = card.bounty_for(severity) - earned
            if change:
                entry = ledger_post(
                    artist=report.artist_id,
                    program_id=report.program_id,
                    kind=LedgerEntry.Kind.ADJUSTMENT,
                    amount_minor=change,
                    currency=card.currency,
                    source=(SeverityRerate.SOURCE_TYPE, rerate.pk),
                    rate_card=card,
                    rate_minor=card.bounty_for(severity),
                    rate_basis=LedgerEntry.RateBasis.PER_ITEM,
                    quantity=1,
                    created_by=moderator,
                    source_label=f"{report.label} re-rated {severity}"[:200],
                    memo=f"Severity {rerate.from_severity} → {severity}: {reason}"[:2000],
                )
                rerate.ledger_entry = entry
                rerate.save(update_fields=["ledger_entry"])
    report.severity = severity
    report.save(update_fields=["severity"])
    audit_record(
        action="feedback.severity_rerated",
        actor=moderator,
        subject=report.artist,
        program=report.program,
        target=report,
        data={
            "from": rerate.from_severity,
            "to": severity,
            "reason": reason,
            "rerate": rerate.pk,
            "ledger_entry": entry.pk if entry else None,
            "amount_minor": entry.amount_minor if entry else 0,
            "currency": entry.currency if entry else None,
        },
    )
    labels = dict(Severity.choices)
    lines = [
        f"A moderator changed the severity of your report #{report.pk} “{report.title}” from "
        f"{labels[rerate.from_severity].lower()} to {labels[severity].lower()}.",
        f"Reason: {reason}",
    ]
    if entry is not None:
        lines.append(
            f"Your bounty changes by {format_minor(entry.amount_minor, entry.currency)}: one adjustment "
            "line in your earnings."
        )
    elif report.status == FeedbackReport.Status.SUBMITTED:
        lines.append("If the report is accepted, it is paid at the new severity.")
    notify(
        user=report.artist,
        kind=Kind.SEVERITY_RERATED,
        program=report.program,
        title=f"Report #{report.pk} re-rated {labels[severity].lower()}",
        body="\n".join(lines),
        link=reverse("labour:feedback_detail", args=[report.pk]),
    )
    return rerate
