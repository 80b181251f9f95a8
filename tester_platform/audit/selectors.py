from __future__ import annotations

from django.db.models import QuerySet

from tester_platform.audit.models import AuditChainHead, AuditEvent


def audit_events_about(*, user) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(subject=user).select_related("actor", "program").order_by("-id")


def audit_events_for_program(*, program) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(program=program).select_related("actor", "subject", "program").order_by("-id")


def audit_chain_head() -> dict | None:
    """The newest event's link as of now, for an artist to keep: if their history is later
    rewritten, this event's hash in the chain no longer matches the one they hold."""
    head = AuditChainHead.objects.filter(pk=1).values("last_event_id", "last_hash").first()
    if head is None or head["last_event_id"] is None:
        return None
    event = AuditEvent.objects.filter(pk=head["last_event_id"]).values("created_at", "key_id").first()
    return {
        "event_id": head["last_event_id"],
        "hash": head["last_hash"],
        # Full precision (the link covers it), not the JSON encoder's milliseconds.
        "at": event["created_at"].isoformat() if event else None,
        "key_id": event["key_id"] if event else None,
    }
