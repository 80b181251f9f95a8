"""The one write path for audit events."""
from __future__ import annotations

import json
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from tester_platform.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent


def _normalise(data: dict[str, Any] | None) -> dict[str, Any]:
    # Store exactly what a JSON round trip gives back, so the hash recomputes identically.
    return json.loads(json.dumps(data or {}, default=str))


@transaction.atomic
def audit_record(
    *,
    action: str,
    actor=None,
    subject=None,
    program=None,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    head, _ = AuditChainHead.objects.get_or_create(pk=1)
    head = AuditChainHead.objects.select_for_update().get(pk=head.pk)
    event = AuditEvent(
        created_at=timezone.now(),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        subject=subject,
        program=program,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=_normalise(data),
        prev_hash=head.last_hash,
    )
    event.hash = event.compute_hash()
    event.save()
    head.last_hash = event.hash
    head.last_event_id = event.pk
    head.save(update_fields=["last_hash", "last_event_id"])
    return event


def audit_chain_problems() -> list[str]:
    """Every break in the chain, oldest first; empty means intact."""
    problems: list[str] = []
    expected_prev = GENESIS_HASH
    last_id = None
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != expected_prev:
            problems.append(f"event {event.pk}: previous hash does not match event before it")
        if event.compute_hash() != event.hash:
            problems.append(f"event {event.pk}: contents do not match its hash")
        expected_prev = event.hash
        last_id = event.pk
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.last_event_id != last_id or head.last_hash != expected_prev):
        problems.append("chain head does not point at the newest event (events deleted or appended around the service)")
    return problems
