"""Can this worker store outputs right now? Asked at worker start, on every heartbeat and
before each claim: a worker whose media is read-only or full claims nothing (its jobs stay
queued for a healthy worker) instead of running them and failing at the last step."""

from __future__ import annotations

import logging
import os
import shutil
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage

log = logging.getLogger(__name__)

_PROBE = b"atelier media probe\n" * 64


def min_free_bytes() -> int:
    """Free space below which media counts as full (a 1080p job writes tens of MB)."""
    raw = os.environ.get("GENERATION_MIN_FREE_MEDIA_BYTES")
    return int(raw) if raw else int(getattr(settings, "GENERATION_MIN_FREE_MEDIA_BYTES", 64 * 1024 * 1024))


def media_problem() -> str | None:
    """Why outputs cannot be stored now (for logs and the health check), or None."""
    storage = default_storage
    backend = getattr(storage, "_wrapped", storage)  # default_storage is a lazy proxy
    if isinstance(backend, FileSystemStorage):
        location = backend.location
        if os.path.isdir(location):
            free = shutil.disk_usage(location).free
            if free < min_free_bytes():
                return f"media has {free} bytes free, below the {min_free_bytes()} a job needs"
    name = f"_probe/{os.getpid()}-{uuid.uuid4().hex}.tmp"
    try:
        saved = storage.save(name, ContentFile(_PROBE))
        try:
            if storage.size(saved) != len(_PROBE):
                return "media wrote a short file"
        finally:
            storage.delete(saved)
    except OSError as exc:
        return f"media not writable ({exc.strerror or type(exc).__name__})"
    return None


def media_writable() -> bool:
    problem = media_problem()
    if problem:
        log.error("media storage: %s", problem)
    return problem is None
