from __future__ import annotations

from celery import shared_task

from tester_platform.audit.services import audit_checkpoint_write


@shared_task
def checkpoint_audit_chain() -> int | None:
    """Beat, every few minutes: pin the chain head in the checkpoint file outside the
    database. Safe to retry or run twice: an unmoved head writes nothing."""
    checkpoint = audit_checkpoint_write()
    return checkpoint["event_id"] if checkpoint else None
