"""The body of the worker task: claim, run, encode, sign, store, meter. The Celery task
is a thin wrapper around ``execute_job`` so the same code runs in the benchmark."""
from __future__ import annotations

import logging
import os
import time
import traceback
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from generation import media, pipelines, provenance, services
from generation.conf import ModelProfile, get_profile
from generation.errors import ModelProfileError
from generation.logcontext import current_job_id
from generation.models import GenerationJob, Worker

log = logging.getLogger(__name__)

MODEL_UNAVAILABLE = (
    "The video model could not be loaded on the GPU worker, so this generation did not run. "
    "Nothing was charged; staff have been told. Please try again later."
)
GENERATION_FAILED = "Something went wrong while making this video. Please try again; staff have been told."


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


def _store(job: GenerationJob, field_name: str, filename: str, data: bytes) -> str:
    field = job._meta.get_field(field_name)
    return default_storage.save(field.generate_filename(job, filename), ContentFile(data))


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
    worker = _worker_for(hostname)
    job = services.job_claim(job_id=job_id, worker=worker)
    if job is None:
        log.info("job %s not claimable (already claimed, cancelled or gone); dropping delivery", job_id)
        return "skipped"
    attempt = job.attempts
    wall_start = time.perf_counter()
    interval = _interval()
    last = {"t": 0.0, "cancel": False}

    def on_step(done: int, total: int) -> bool:
        now = time.perf_counter()
        if now - last["t"] >= interval or done >= total:
            last["t"] = now
            # steps are 0-90 %; decoding/encoding/signing the last 10 %
            last["cancel"] = services.job_report_progress(job_id=job.pk, attempt=attempt,
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

    result: pipelines.RunResult | None = None
    try:
        profile: ModelProfile = get_profile(job.model_profile)
        source = _source_frames(job) if job.source_job_id else None
        result = pipelines.run(
            profile=profile, mode=job.mode, prompt=job.prompt, negative_prompt=job.negative_prompt, seed=job.seed,
            width=job.width, height=job.height, num_frames=job.num_frames, steps=job.steps, strength=job.strength,
            source_frames=source, added_frames=job.added_frames, on_step=on_step,
        )
        if result.cancelled:
            services.job_finish_cancelled(job_id=job.pk, attempt=attempt, usage=usage(result, 0))
            return "cancelled"
        frames = result.frames
        services.job_report_progress(job_id=job.pk, attempt=attempt, progress=92)
        mp4 = media.encode_mp4(frames, fps=job.fps)
        poster = media.poster_jpeg(frames)
        claims = provenance.ProvenanceClaims.from_dict(job.provenance_claims)
        signed = provenance.sign_mp4(mp4, claims=claims, model_profile=job.model_profile,
                                     title=f"Atelier generation {job.pk}")  # last step on the bytes
        outputs = services.Outputs(
            video_name=_store(job, "video", "video.mp4", signed.data),
            thumbnail_name=_store(job, "thumbnail", "poster.jpg", poster),
            output_sha256=signed.unsigned_sha256,
            signed_sha256=signed.signed_sha256,
            provenance=signed.manifest,
            manifest_validation_state=signed.validation_state,
        )
        if not services.job_succeed(job_id=job.pk, attempt=attempt, outputs=outputs,
                                    usage=usage(result, int(frames.shape[0]))):
            log.warning("job %s attempt %s finished after being reaped; discarding its output", job.pk, attempt)
            for name in (outputs.video_name, outputs.thumbnail_name):
                default_storage.delete(name)
            return "discarded"
        return "succeeded"
    except (ModelProfileError, pipelines.ModelLoadError) as exc:
        log.error("job %s: model unavailable: %s", job.pk, exc)
        services.job_fail(job_id=job.pk, attempt=attempt, error=MODEL_UNAVAILABLE, detail=str(exc),
                          usage=usage(result, 0))
        return "failed"
    except Exception as exc:  # the worker must survive any one job
        log.exception("job %s failed", job.pk)
        services.job_fail(job_id=job.pk, attempt=attempt, error=GENERATION_FAILED,
                          detail=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"[:5000],
                          usage=usage(result, 0))
        return "failed"


def status_snapshot(job_id: int) -> dict[str, Any]:
    return GenerationJob.objects.filter(pk=job_id).values("status", "progress", "error").first() or {}
