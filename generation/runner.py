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

from generation import images as images_mod
from generation import media, pipelines, plan, provenance, services, storage
from generation.conf import ModelProfile, get_profile
from generation.errors import ModelProfileError
from generation.logcontext import current_job_id
from generation.models import GenerationJob, InputImage, Worker

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


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as fh:
        return fh.read()


def _loop(source, seam_out, seam: int):
    """Put the re-noised seam back: the clip now starts with the seam's second half (the
    source's opening, reworked) and ends with its first half (the source's ending,
    reworked), so its last frame flows into its first. Same length as the source."""
    import numpy as np

    a = seam // 2  # frames taken from the source's end; seam - a from its start
    b = seam - a
    middle = source[b:len(source) - a]
    return np.concatenate([seam_out[a:], middle, seam_out[:a]])


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
    segments = job.segments or plan.legacy_segments(job)
    stored: list[str] = []
    shots: dict[int, dict[str, Any]] = {}
    ran = {"compute": 0.0, "steps": 0, "peak": 0, "device": "none"}
    inputs: list[dict[str, Any]] = []

    def usage(frames: int) -> services.UsageStats:
        return services.UsageStats(
            device_name=ran["device"], compute_seconds=ran["compute"], wall_seconds=time.perf_counter() - wall_start,
            steps=ran["steps"], frames=frames, peak_memory_bytes=ran["peak"],
            shots=tuple(shots[k] for k in sorted(shots)), inputs=tuple(inputs))

    try:
        profile: ModelProfile = get_profile(job.model_profile)
        weights = plan.weights(segments, profile=profile, steps=job.steps)
        total_weight = sum(weights) or 1.0
        ingredients: list[provenance.Ingredient] = []
        video = None
        if job.source_job_id:
            source_mp4 = _read(job.source_job.video.name)
            video = media.decode_frames(source_mp4)
            ingredients.append(provenance.Ingredient(source_mp4, "video/mp4",
                                                     f"source video (generation {job.source_job_id})"))
        images = {img.pk: img for img in InputImage.objects.filter(pk__in=plan.image_ids(segments))}
        image_data = {pk: images_mod.read_image(img) for pk, img in images.items()}
        for seg in segments:
            if seg.get("image") is not None and not any(i.get("image") == seg["image"] for i in inputs):
                img = images[seg["image"]]
                role = f"start image of shot {int(seg.get('shot', 0)) + 1}"
                ingredients.append(provenance.Ingredient(image_data[img.pk], "image/png", role))
                inputs.append({"kind": "image", "image": img.pk, "role": role, "sha256": img.sha256,
                               "width": img.width, "height": img.height, "bytes": img.bytes})
        if job.source_job_id:
            inputs.append({"kind": "video", "generation": job.source_job_id, "role": "source video",
                           "sha256": job.source_job.signed_sha256, "frames": job.source_job.num_frames})

        for index, seg in enumerate(segments):
            done_before = sum(weights[:index])

            def on_step(done: int, total: int, index=index, done_before=done_before) -> bool:
                now = time.perf_counter()
                if now - last["t"] >= interval or done >= total:
                    last["t"] = now
                    fraction = done / max(1, total)
                    # steps are 0-90 %; decoding/encoding/signing the last 10 %
                    overall = 90 * (done_before + fraction * weights[index]) / total_weight
                    last["cancel"] = _db(services.job_report_progress, job_id=job.pk, attempt=attempt,
                                         progress=int(overall), segment=index, segment_progress=int(100 * fraction))
                return last["cancel"]

            _db(services.job_report_progress, job_id=job.pk, attempt=attempt,
                progress=int(90 * done_before / total_weight), segment=index, segment_progress=0)
            before = 0 if video is None else len(video)
            op = seg["op"]
            common = dict(profile=profile, prompt=seg.get("prompt") or job.prompt, negative_prompt=job.negative_prompt,
                          seed=job.seed + index, width=job.width, height=job.height, steps=job.steps, on_step=on_step)
            result = None
            if op == "trim":
                start = int(seg["start"])
                video = video[start:start + int(seg["frames"])]
            elif op == "text":
                result = pipelines.run(mode="text_to_video", num_frames=int(seg["frames"]), **common)
            elif op == "image":
                still = images_mod.fit_image(image_data[int(seg["image"])], width=job.width, height=job.height)
                result = pipelines.run(mode="image_to_video", num_frames=int(seg["frames"]), image=still, **common)
            elif op == "extend":
                result = pipelines.run(mode="extension", num_frames=before + int(seg["frames"]),
                                       strength=seg.get("strength"), source_frames=video,
                                       added_frames=int(seg["frames"]), **common)
            elif op == "vary":
                result = pipelines.run(mode="variation", num_frames=int(seg["frames"]), strength=seg.get("strength"),
                                       source_frames=video, **common)
            elif op == "loop":
                seam = int(seg["seam"])
                a = seam // 2
                clip = media.np_concat(video[len(video) - a:], video[:seam - a])
                result = pipelines.run(mode="variation", num_frames=seam, strength=seg.get("strength"),
                                       source_frames=clip, **common)
            else:
                raise ValueError(f"unknown segment op {op!r}")
            line = shots.setdefault(int(seg.get("shot", 0)), {
                "shot": int(seg.get("shot", 0)) + 1, "prompt": (seg.get("prompt") or "")[:200], "segments": 0,
                "frames": 0, "steps": 0, "compute_seconds": 0.0})
            line["segments"] += 1
            if result is not None:
                ran["compute"] += result.compute_seconds
                ran["steps"] += result.steps_done
                ran["peak"] = max(ran["peak"], result.peak_memory_bytes)
                ran["device"] = result.device_name
                line["steps"] += result.steps_done
                line["compute_seconds"] = round(line["compute_seconds"] + result.compute_seconds, 4)
                if result.cancelled:
                    # Stopped at the artist's request: they pay for the steps that ran.
                    _db(services.job_finish_cancelled, job_id=job.pk, attempt=attempt, usage=usage(0))
                    return "cancelled"
                frames = result.frames
                if op in ("text", "image"):
                    video = media.np_concat(video, frames[:-1]) if (seg.get("cut") and video is not None) else frames
                elif op == "loop":
                    video = _loop(video, frames, int(seg["seam"]))
                else:
                    video = frames
            line["frames"] += len(video) - before if op not in ("vary", "loop", "trim") else len(video)

        frames = video
        _db(services.job_report_progress, job_id=job.pk, attempt=attempt, progress=92,
            segment=len(segments) - 1, segment_progress=100)
        mp4 = media.encode_mp4(frames, fps=job.fps)
        poster = media.poster_jpeg(frames)
        claims = provenance.ProvenanceClaims.from_dict(job.provenance_claims)
        recipe = {"mode": job.mode, "shots": plan.shot_count(segments), "segments": len(segments),
                  "frames": int(frames.shape[0]), "fps": job.fps, "seed": job.seed}
        signed = provenance.sign_mp4(mp4, claims=claims, model_profile=job.model_profile,
                                     title=f"Atelier generation {job.pk}", recipe=recipe,
                                     ingredients=ingredients)  # last step on the bytes
        outputs = services.Outputs(
            video_name=_store(job, "video", "video.mp4", signed.data, stored),
            thumbnail_name=_store(job, "thumbnail", "poster.jpg", poster, stored),
            output_sha256=signed.unsigned_sha256,
            signed_sha256=signed.signed_sha256,
            provenance=signed.manifest,
            manifest_validation_state=signed.validation_state,
        )
        if not _db(services.job_succeed, job_id=job.pk, attempt=attempt, outputs=outputs,
                   usage=usage(int(frames.shape[0]))):
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
