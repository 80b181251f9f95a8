from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64


class AuditChainHead(models.Model):
    """One row holding the hash of the newest event. Appending locks it, so concurrent
    writers queue up instead of forking the chain (locking the newest event row would not:
    under READ COMMITTED the waiter would not see the row inserted meanwhile)."""

    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    last_event_id = models.BigIntegerField(null=True, blank=True)


class AuditEvent(models.Model):
    """An append-only, hash-chained record of a sensitive action."""

    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_actions"
    )
    # The person the event is about: what an artist sees on "about me".
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_about"
    )
    program = models.ForeignKey("programs.Program", null=True, blank=True, on_delete=models.PROTECT)
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=80, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["subject", "-id"]), models.Index(fields=["program", "-id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"

    def compute_hash(self) -> str:
        payload = {
            "prev": self.prev_hash,
            "at": self.created_at.isoformat(),
            "actor": self.actor_id,
            "subject": self.subject_id,
            "program": self.program_id,
            "action": self.action,
            "target": [self.target_type, self.target_id],
            "data": self.data,
        }
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()
