from __future__ import annotations

import hashlib
import hmac
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

    def __str__(self) -> str:
        return f"Audit chain head at event #{self.last_event_id}"


class UnknownChainKey(LookupError):
    """An event names a key id that is not configured (AUDIT_CHAIN_KEY / AUDIT_CHAIN_OLD_KEYS)."""


class AuditEvent(models.Model):
    """An append-only, chained record of a sensitive action.

    Each event's `hash` is an HMAC-SHA256, under the chain key named by `key_id`, of its
    contents and the previous event's hash. The key is configuration (settings
    AUDIT_CHAIN_KEYS), never data: whoever can write to the database can edit a row but
    cannot recompute a valid link for it, nor for any event after it.

    Events written before the chain was keyed keep `key_id` "" and their plain SHA-256
    link, and verify as "legacy". They are pinned all the same: the first keyed event's
    HMAC covers the last legacy hash, which covers every legacy event before it. A legacy
    event after a keyed one is a forgery (audit_chain_problems reports it).
    """

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
    # Which configured key made `hash`; "" = legacy plain SHA-256 (before keyed links).
    key_id = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["subject", "-id"]), models.Index(fields=["program", "-id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"

    def compute_hash(self, keys: dict[str, str] | None = None) -> str:
        """The event's link: HMAC-SHA256 under the key `key_id` names (from `keys`, else
        settings.AUDIT_CHAIN_KEYS), or plain SHA-256 for a legacy event."""
        if not self.key_id:
            return hashlib.sha256(self._canonical(keyed=False)).hexdigest()
        keys = settings.AUDIT_CHAIN_KEYS if keys is None else keys
        secret = keys.get(self.key_id)
        if secret is None:
            raise UnknownChainKey(self.key_id)
        return hmac.new(secret.encode(), self._canonical(keyed=True), hashlib.sha256).hexdigest()

    def _canonical(self, *, keyed: bool) -> bytes:
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
        if keyed:
            # The key id is signed too, so a row cannot be relabelled to another key.
            payload["key"] = self.key_id
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
