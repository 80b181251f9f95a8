"""The body of the worker task: claim, run, encode, sign, store, meter. The Celery task
is a thin wrapper around ``execute_job`` so the same code runs in the benchmark."""
from __future__ import annotations

import logging
import os
import time
import traceback
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from generation import media, pipelines, provenance, services, storage
from generation.conf import ModelProfile, get_profile
from generation.errors import ModelProfileError
from generation.logcontext import current_job_id
from generation.models import GenerationJob, Worker

log = logging.getLogger(__name__)

MODEL_UNAVAILABLE = (
    "The video model could not be loaded on the GPU worker, so this generation did not run. "
    "Nothing was charged; staff have been told. Please try again later."
)
GENERATION_FAILED = (
    "Something went wrong on our side while making this video. Nothing was charged; please try again. "
    "Staff have been told."
)
DB_RETRIES = 3
# Ids of the jobs this process is running now: the heartbeat thread vouches for them.
running_jobs: set[int] = set()


def _interval() -> float:
    raw = os.environ.get("GENERATION_PROGRESS_INTERVAL_SECONDS")
    return float(raw) if raw else float(getattr(settings, "GENERATION_PROGRESS_INTERVAL_SECONDS", 0.5))


def _worker_for(hostname: str | None) -> Worker | None:
    if not hostname:
        return None
    worker = Worker.objects.filter(hostname=hostname).first()
    if worker is None:
        # The row can vanish (a test flush, an operator): re-register rather than run unattributed.
        from generation.workers import register_current_worker

        worker = register_current_worker(hostname=hostname, queues=[])
    return worker


def _store(job: GenerationJob, field_name: str, filename: str, data: bytes, stored: list[str]) -> str:
    field = job._meta.get_field(field_name)
    name = default_storage.get_available_name(field.generate_filename(job, filename))
    stored.append(name)  # before writing: a write that fails half-way leaves a file to delete
    return default_storage.save(name, ContentFile(data))


def _delete_unreferenced(job_id: int, names: list[str]) -> None:
    """Delete files written for a job that did not succeed with them. The job row decides:
    if a success was committed before a connection broke, its files stay."""
    row = GenerationJob.objects.filter(pk=job_id).values("video", "thumbnail").first() or {}
    for name in names:
        if name in (row.get("video"), row.get("thumbnail")):
            continue
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("job %s: could not delete %s", job_id, name, exc_info=True)


def _db(operation, /, **kwargs):
    """Run a state change, surviving a dropped database connection: close the broken
    connection (the next query opens a fresh one) and try again, a few times. The state
    changes are idempotent per attempt (they lock the row and check its state)."""
    for attempt in range(DB_RETRIES):
        try:
            return operation(**kwargs)
        except (OperationalError, InterfaceError):
            log.warning("database error during %s (try %d of %d)", operation.__name__, attempt + 1, DB_RETRIES,
                        exc_info=True)
            try:
                connection.close()
            except Exception:  # closing a dead connection may itself fail; it is gone either way
                connection.connection = None
            if attempt == DB_RETRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def _source_frames(job: GenerationJob):
    source = job.source_job
    with default_storage.open(source.video.name, "rb") as fh:
        return media.decode_frames(fh.read())


def execute_job(*, job_id: int, hostname: str | None = None) -> str:
    token = current_job_id.set(job_id)
    try:
        outcome = _execute_job(job_id=job_id, hostname=hostname)
        log.info("job %s: %s", job_id, outcome)
        return outcome
    finally:
        current_job_id.reset(token)


def _execute_job(*, job_id: int, hostname: str | None = None) -> str:
    if not storage.media_writable():
        # Claim nothing we could not store: the job stays queued (uncharged) and the
        # dispatch sweep hands it to a healthy worker, or to this one once media is back.
        _db(services.job_hand_back, job_id=job_id)
        return "handed back (media not writable)"
    worker = _db(_worker_for, hostname=hostname)
    job = _db(services.job_claim, job_id=job_id, worker=worker)
    if job is None:
        log.info("job %s not claimable (already claimed, cancelled or gone); dropping delivery", job_id)
        return "skipped"
    running_jobs.add(job.pk)
    try:
        return _run_claimed(job)
    finally:
        running_jobs.discard(job.pk)


def _run_claimed(job: GenerationJob) -> str:
    attempt = job.attempts
    wall_start = time.perf_counter()
    interval = _interval()
    last = {"t": 0.0, "cancel": False}

    def on_step(done: int, total: int) -> bool:
        now = time.perf_counter()
        if now - last["t"] >= interval or done >= total:
            last["t"] = now
            # steps are 0-90 %; decoding/encoding/signing the last 10 %
            last["cancel"] = _db(services.job_report_progress, job_id=job.pk, attempt=attempt,
                                 progress=int(90 * done / max(1, total)))
        return last["cancel"]

    def usage(result: pipelines.RunResult | None, frames: int) -> services.UsageStats:
        return services.UsageStats(
            device_name=result.device_name if result else "none",
            compute_seconds=result.compute_seconds if result else 0.0,
            wall_seconds=time.perf_counter() - wall_start,
            steps=result.steps_done if result else 0,
            frames=frames,
            peak_memory_bytes=result.peak_memory_bytes if result else 0,
        )

    stored: list[str] = []
    try:
        profile: ModelProfile = get_profile(job.model_profile)
        source = _source_frames(job) if job.source_job_id else None
        result = pipelines.run(
            profile=profile, mode=job.mode, prompt=job.prompt, negative_prompt=job.negative_prompt, seed=job.seed,
            width=job.width, height=job.height, num_frames=job.num_frames, steps=job.steps, strength=job.strength,
            source_frames=source, added_frames=job.added_frames, on_step=on_step,
        )
        if result.cancelled:
            # Stopped at the artist's request: they pay for the steps that ran.
            _db(services.job_finish_cancelled, job_id=job.pk, attempt=attempt, usage=usage(result, 0))
            return "cancelled"
        frames = result.frames
        _db(services.job_report_progress, job_id=job.pk, attempt=attempt, progress=92)
        mp4 = media.encode_mp4(frames, fps=job.fps)
        poster = media.poster_jpeg(frames)
        claims = provenance.ProvenanceClaims.from_dict(job.provenance_claims)
        signed = provenance.sign_mp4(mp4, claims=claims, model_profile=job.model_profile,
                                     title=f"Atelier generation {job.pk}")  # last step on the bytes
        outputs = services.Outputs(
            video_name=_store(job, "video", "video.mp4", signed.data, stored),
            thumbnail_name=_store(job, "thumbnail", "poster.jpg", poster, stored),
            output_sha256=signed.unsigned_sha256,
            signed_sha256=signed.signed_sha256,
            provenance=signed.manifest,
            manifest_validation_state=signed.validation_state,
        )
        if not _db(services.job_succeed, job_id=job.pk, attempt=attempt, outputs=outputs,
                   usage=usage(result, int(frames.shape[0]))):
            log.warning("job %s attempt %s finished after being reaped; discarding its output", job.pk, attempt)
            _delete_unreferenced(job.pk, stored)
            return "discarded"
        return "succeeded"
    except (ModelProfileError, pipelines.ModelLoadError) as exc:
        log.error("job %s: model unavailable: %s", job.pk, exc)
        return _fail(job, attempt, stored, error=MODEL_UNAVAILABLE, detail=str(exc))
    except Exception as exc:  # the worker must survive any one job
        log.exception("job %s failed", job.pk)
        return _fail(job, attempt, stored, error=GENERATION_FAILED,
                     detail=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"[:5000])


def _fail(job: GenerationJob, attempt: int, stored: list[str], *, error: str, detail: str) -> str:
    """A job that fails failed on our side (model, storage, encoding, signing, database):
    no UsageRecord, so nothing is charged and the reservation is released; files written
    for it are deleted."""
    try:
        _db(services.job_fail, job_id=job.pk, attempt=attempt, error=error, detail=detail, usage=None)
    finally:
        _delete_unreferenced(job.pk, stored)
    return "failed"


def status_snapshot(job_id: int) -> dict[str, Any]:
    return GenerationJob.objects.filter(pk=job_id).values("status", "progress", "error").first() or {}
