"""The one write path for audit events, and the checks that the chain is what was written.

Two defences, against two attackers:
- someone who can write to the database but does not hold the chain key: every link is an
  HMAC under that key (models.AuditEvent), so an edited event cannot be re-linked;
- someone who also holds (or stole) the key and rewrites the whole chain consistently:
  signed checkpoints of the head, appended to a file outside the database
  (AUDIT_CHECKPOINT_FILE) by a periodic task, pin every checkpointed event's hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from tester_platform.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent, UnknownChainKey

logger = logging.getLogger(__name__)


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
        key_id=settings.AUDIT_CHAIN_KEY_ID,
    )
    event.hash = event.compute_hash()
    event.save()
    head.last_hash = event.hash
    head.last_event_id = event.pk
    head.save(update_fields=["last_hash", "last_event_id"])
    return event


# --- verification ----------------------------------------------------------------------------


@dataclass
class ChainReport:
    problems: list[str] = field(default_factory=list)
    events: int = 0
    legacy: int = 0  # plain SHA-256 links from before the chain was keyed
    checkpoints: int = 0
    checkpoint_file: Path | None = None
    last_id: int | None = None
    last_hash: str = GENESIS_HASH
    last_key_id: str = ""


def _walk(
    report: ChainReport, events, *, expected_prev: str, keys: dict[str, str], watch: set[int] | None = None
) -> dict[int, str]:
    """Check every event's link and its pointer to the one before; return the hashes of the
    events in `watch` (the checkpointed ones) as they are now."""
    seen: dict[int, str] = {}
    keyed_seen = False
    for event in events:
        report.events += 1
        if event.prev_hash != expected_prev:
            report.problems.append(f"event {event.pk}: previous hash does not match event before it")
        if not event.key_id:
            report.legacy += 1
            if keyed_seen:
                # Legacy links exist only before the first keyed event; a later one was
                # rewritten to dodge the key.
                report.problems.append(f"event {event.pk}: unkeyed (legacy) link after keyed events")
        else:
            keyed_seen = True
        try:
            if not hmac.compare_digest(event.compute_hash(keys), event.hash):
                report.problems.append(f"event {event.pk}: contents do not match its hash")
        except UnknownChainKey:
            report.problems.append(
                f"event {event.pk}: linked with key id {event.key_id!r}, which is not configured "
                "(AUDIT_CHAIN_KEY / AUDIT_CHAIN_OLD_KEYS)"
            )
        if watch is not None and event.pk in watch:
            seen[event.pk] = event.hash
        expected_prev = event.hash
        report.last_id, report.last_hash, report.last_key_id = event.pk, event.hash, event.key_id
    return seen


def audit_chain_verify(*, checkpoint_file: str | Path | None = None) -> ChainReport:
    """Recompute the whole chain under the configured keys and compare it with every
    checkpoint in the checkpoint file."""
    keys = dict(settings.AUDIT_CHAIN_KEYS)
    path = Path(checkpoint_file or settings.AUDIT_CHECKPOINT_FILE)
    report = ChainReport(checkpoint_file=path)
    checkpoints = _read_checkpoints(path, keys=keys, report=report)
    watch = {c["event_id"] for c in checkpoints}
    current = _walk(
        report,
        AuditEvent.objects.order_by("id").iterator(chunk_size=2000),
        expected_prev=GENESIS_HASH,
        keys=keys,
        watch=watch,
    )
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.last_event_id != report.last_id or head.last_hash != report.last_hash):
        report.problems.append(
            "chain head does not point at the newest event (events deleted or appended around the service)"
        )
    if report.last_id is not None and not report.last_key_id and report.last_id not in watch:
        # Legacy links are pinned by the first keyed event after them, or by a checkpoint.
        # With neither, a chain rewritten wholesale as legacy SHA-256 would pass unnoticed.
        report.problems.append(
            f"the newest {report.legacy} event(s) have legacy (unkeyed) links that neither a keyed "
            "event nor a checkpoint pins yet"
        )
    for checkpoint in checkpoints:
        now = current.get(checkpoint["event_id"])
        where = f"checkpoint of {checkpoint['written_at']}"
        if now is None:
            report.problems.append(f"{where}: event {checkpoint['event_id']} is missing")
        elif not hmac.compare_digest(now, checkpoint["hash"]):
            report.problems.append(
                f"{where}: event {checkpoint['event_id']} has a different hash than when it was "
                "checkpointed (the chain was rewritten)"
            )
    return report


def audit_chain_problems(*, checkpoint_file: str | Path | None = None) -> list[str]:
    """Every break in the chain, oldest first, then every checkpoint it contradicts;
    empty means intact."""
    return audit_chain_verify(checkpoint_file=checkpoint_file).problems


# --- checkpoints outside the database ------------------------------------------------------------

_CHECKPOINT_FIELDS = ("event_id", "hash", "at", "written_at", "key_id")


def _checkpoint_signature(checkpoint: dict[str, Any], secret: str) -> str:
    body = json.dumps({name: checkpoint[name] for name in _CHECKPOINT_FIELDS}, sort_keys=True, separators=(",", ":"))
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def _read_checkpoints(path: Path, *, keys: dict[str, str], report: ChainReport) -> list[dict[str, Any]]:
    """The checkpoints whose signatures verify; the others are reported."""
    if not path.exists():
        return []
    valid = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                checkpoint = json.loads(line)
                secret = keys.get(checkpoint["key_id"])
                signature = checkpoint["sig"]
                ok = secret is not None and hmac.compare_digest(_checkpoint_signature(checkpoint, secret), signature)
            except (ValueError, KeyError, TypeError):
                report.problems.append(f"{path}:{number}: not a checkpoint line")
                continue
            if secret is None:
                report.problems.append(
                    f"{path}:{number}: signed with key id {checkpoint['key_id']!r}, which is not configured"
                )
            elif not ok:
                report.problems.append(f"{path}:{number}: checkpoint signature does not verify (the line was edited)")
            else:
                valid.append(checkpoint)
    report.checkpoints = len(valid)
    return valid


def _last_checkpoint(path: Path, *, keys: dict[str, str]) -> dict[str, Any] | None:
    """The newest checkpoint line that verifies, read from the end of the file."""
    if not path.exists():
        return None
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        try:
            checkpoint = json.loads(line)
            secret = keys.get(checkpoint["key_id"])
            if secret is not None and hmac.compare_digest(_checkpoint_signature(checkpoint, secret), checkpoint["sig"]):
                return checkpoint
        except (ValueError, KeyError, TypeError):
            continue
    return None


# Not @transaction.atomic: it only reads the database, and on SQLite (immediate transactions)
# an atomic block would hold the write lock over the whole re-verification.
def audit_checkpoint_write(*, checkpoint_file: str | Path | None = None) -> dict[str, Any] | None:
    """Append a signed line naming the chain head (event id, hash, time) to the checkpoint
    file; the periodic task's body. Before it signs, it re-verifies the events since the
    last checkpoint, so a chain that was already tampered with is reported (logged at
    ERROR) instead of being pinned. Nothing is written when the head has not moved."""
    keys = dict(settings.AUDIT_CHAIN_KEYS)
    path = Path(checkpoint_file or settings.AUDIT_CHECKPOINT_FILE)
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is None or head.last_event_id is None:
        return None
    last = _last_checkpoint(path, keys=keys)
    if last is not None and last["event_id"] == head.last_event_id and last["hash"] == head.last_hash:
        return None
    report = ChainReport()
    events = AuditEvent.objects.order_by("id").filter(id__lte=head.last_event_id)
    expected_prev = GENESIS_HASH
    if last is not None:
        anchor = AuditEvent.objects.filter(pk=last["event_id"]).values_list("hash", flat=True).first()
        if anchor is None or anchor != last["hash"]:
            report.problems.append(f"event {last['event_id']} no longer has the hash it was checkpointed with")
        events, expected_prev = events.filter(id__gt=last["event_id"]), last["hash"]
    _walk(report, events.iterator(chunk_size=2000), expected_prev=expected_prev, keys=keys)
    if report.last_id != head.last_event_id or report.last_hash != head.last_hash:
        report.problems.append("chain head does not point at the newest event")
    if report.problems:
        logger.error("audit chain checkpoint refused, the chain is broken: %s", "; ".join(report.problems))
        return None
    at = AuditEvent.objects.filter(pk=head.last_event_id).values_list("created_at", flat=True).get()
    key_id = settings.AUDIT_CHAIN_KEY_ID
    checkpoint = {
        "event_id": head.last_event_id,
        "hash": head.last_hash,
        "at": at.isoformat(),
        "written_at": timezone.now().isoformat(),
        "key_id": key_id,
    }
    checkpoint["sig"] = _checkpoint_signature(checkpoint, keys[key_id])
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write of one line in append mode: concurrent writers never interleave inside a line;
    # fsync, because a checkpoint that a crash can lose protects nothing.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (json.dumps(checkpoint, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return checkpoint
