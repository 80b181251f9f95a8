"""The body of the worker task: claim, run, encode, sign, store, meter. The Celery task
is a thin wrapper around ``execute_job`` so the same code runs in the benchmark."""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ParamSpec, TypedDict, TypeVar

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, connection, models

from generation import images as images_mod
from generation import media, pipelines, plan, provenance, services, storage
from generation.conf import ModelProfile, drain_batches, get_profile, progress_interval_seconds
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

_P = ParamSpec("_P")
_R = TypeVar("_R")


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
    if not isinstance(field, models.FileField):
        raise TypeError(f"{field_name} is not a file field of GenerationJob")
    name = default_storage.get_available_name(field.generate_filename(job, filename))
    stored.append(name)  # before writing: a write that fails half-way leaves a file to delete
    return default_storage.save(name, ContentFile(data))


def _delete_unreferenced(job_id: int, names: list[str]) -> None:
    """Delete files written for a job that did not succeed with them. The job row decides:
    if a success was committed before a connection broke, its files stay."""
    row: Mapping[str, object] = GenerationJob.objects.filter(pk=job_id).values("video", "thumbnail").first() or {}
    for name in names:
        if name in (row.get("video"), row.get("thumbnail")):
            continue
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("job %s: could not delete %s", job_id, name, exc_info=True)


def _db(operation: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """Run a state change, surviving a dropped database connection: close the broken
    connection (the next query opens a fresh one) and try again, a few times. The state
    changes are idempotent per attempt (they lock the row and check its state)."""
    attempt = 0
    while True:
        try:
            return operation(*args, **kwargs)
        except (OperationalError, InterfaceError):
            log.warning(
                "database error during %s (try %d of %d)",
                getattr(operation, "__name__", operation),
                attempt + 1,
                DB_RETRIES,
                exc_info=True,
            )
            try:
                connection.close()
            except Exception:  # closing a dead connection may itself fail; it is gone either way
                connection.connection = None
            if attempt == DB_RETRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
            attempt += 1


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as fh:
        data: bytes = fh.read()
        return data


def _so_far(video: np.ndarray | None, op: str) -> np.ndarray:
    """The video made so far, which every segment after the first works on."""
    if video is None:
        raise ValueError(f"segment op {op!r} needs a video made before it, and there is none")
    return video


@dataclass
class _Reported:
    """A job's progress reports: when the last was written (throttled to the progress
    interval) and whether the artist had asked to cancel by then."""

    at: float = 0.0
    cancel: bool = False


@dataclass
class _Ran:
    """What a job's pipeline calls used, summed over its segments (for its usage record)."""

    compute: float = 0.0
    steps: int = 0
    peak: int = 0
    device: str = "none"


class _CallArgs(TypedDict):
    """What every pipeline call of a job's plan shares (pipelines.run)."""

    profile: ModelProfile
    prompt: str
    negative_prompt: str
    seed: int
    width: int
    height: int
    steps: int
    on_step: Callable[[int, int], bool]


def _loop(source: np.ndarray, seam_out: np.ndarray, seam: int) -> np.ndarray:
    """Put the re-noised seam back: the clip now starts with the seam's second half (the
    source's opening, reworked) and ends with its first half (the source's ending,
    reworked), so its last frame flows into its first. Same length as the source."""
    import numpy as np

    a = seam // 2  # frames taken from the source's end; seam - a from its start
    b = seam - a
    middle = source[b : len(source) - a]
    return np.concatenate([seam_out[a:], middle, seam_out[:a]])


# Work handed to the finisher thread: (job id, what finishes it).
Finisher = list[tuple[int, Callable[[], str]]]


@dataclass
class Shared:
    """A job's part of a batched first pipeline call: its own frames (None if it was
    cancelled), its fair share of the call's compute, and the batch it was in."""

    result: pipelines.RunResult
    batch_size: int
    batch_compute_seconds: float
    batch_id: str
    wall_start: float


def execute_job(*, job_id: int, hostname: str | None = None) -> str:
    token = current_job_id.set(job_id)
    try:
        outcome = _execute_job(job_id=job_id, hostname=hostname)
        log.info("job %s: %s", job_id, outcome)
        return outcome
    finally:
        current_job_id.reset(token)


def _execute_job(*, job_id: int, hostname: str | None = None) -> str:
    """One delivery is a wake-up for its queue: claim the fairest batch there and run it,
    then, while work is queued, claim and run the next at once (no round trip through the
    broker), up to ``GENERATION_DRAIN_BATCHES``. The other jobs' own messages then find
    their jobs taken and claim what is next, or nothing."""
    outcomes: list[str] = []
    worker: Worker | None = None
    claimed: list[int] = []
    # One finisher thread: the MP4, manifest and storage of one batch overlap the next
    # batch's denoising (CPU work beside GPU work); finished in order, all before this
    # delivery is acknowledged.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generation-finish")
    finishing: list[Future[str]] = []
    try:
        for round_ in range(drain_batches()):
            if not storage.media_writable():
                # Claim nothing we could not store: the job stays queued (uncharged) and the
                # dispatch sweep hands it to a healthy worker, or to this one once media is back.
                if round_ == 0:
                    _db(services.job_hand_back, job_id=job_id)
                    return "handed back (media not writable)"
                break
            if worker is None:
                worker = _db(_worker_for, hostname=hostname)
            jobs = _db(services.jobs_claim_batch, job_id=job_id, worker=worker)
            if not jobs:
                if round_ == 0:
                    log.info(
                        "job %s not claimable (already claimed, cancelled or gone) and nothing else queued; "
                        "dropping delivery",
                        job_id,
                    )
                    return "skipped"
                break
            ids = [j.pk for j in jobs]
            claimed += ids
            running_jobs.update(ids)  # vouched for by the heartbeat until this delivery ends
            handoff: Finisher = []
            outcome = _run_claimed(jobs[0], finisher=handoff) if len(jobs) == 1 else _run_batch(jobs, handoff)
            finishing += [pool.submit(_finish_in_thread, pk, fn) for pk, fn in handoff]
            outcomes.append(f"{'+'.join(map(str, ids))}: {outcome}")
    finally:
        pool.shutdown(wait=True)
        running_jobs.difference_update(claimed)
    outcomes += [f.result() for f in finishing]
    return "; ".join(outcomes)


def _finish_in_thread(job_id: int, finish: Callable[[], str]) -> str:
    token = current_job_id.set(job_id)
    try:
        return f"{job_id}: {finish()}"
    finally:
        current_job_id.reset(token)
        connection.close()  # this thread's own connection: not left open between deliveries


def _run_batch(jobs: list[GenerationJob], finisher: Finisher | None = None) -> str:
    """Several compatible jobs (services.jobs_claim_batch) share their first pipeline call;
    each then finishes alone (the rest of its plan, MP4, manifest, usage) through
    ``_run_claimed``, as a job run alone does. A job cancelled mid-call is charged its
    share of the call up to its cancel and its output discarded; the call stops only when
    every job in it asked to."""
    wall_start = time.perf_counter()
    batch_id = str(uuid.uuid4())
    head = jobs[0]
    size = len(jobs)
    interval = progress_interval_seconds()
    live = {j.pk: True for j in jobs}
    stopped_at: dict[int, int] = {}  # job id -> steps it was live for, when cancelled
    plans = {j.pk: (j.segments or plan.legacy_segments(j)) for j in jobs}
    last = {"t": 0.0}
    log.info(
        "batch %s: jobs %s as one call (%d×%d, %s steps)",
        batch_id,
        [j.pk for j in jobs],
        head.width,
        head.height,
        head.steps,
    )
    try:
        profile: ModelProfile = get_profile(head.model_profile)
        share_of_plan: dict[int, float] = {}
        for j in jobs:
            w = plan.weights(plans[j.pk], profile=profile, steps=j.steps)
            share_of_plan[j.pk] = w[0] / (sum(w) or 1.0)

        def on_step(done: int, total: int) -> bool:
            now = time.perf_counter()
            if now - last["t"] >= interval or done >= total:
                last["t"] = now
                fraction = done / max(1, total)
                for j in jobs:
                    if not live[j.pk]:
                        continue
                    if _db(
                        services.job_report_progress,
                        job_id=j.pk,
                        attempt=j.attempts,
                        progress=int(90 * fraction * share_of_plan[j.pk]),
                        segment=0,
                        segment_progress=int(100 * fraction),
                    ):
                        live[j.pk] = False
                        stopped_at[j.pk] = done
                        log.info(
                            "batch %s: job %s cancelled after %d steps; its output will be discarded",
                            batch_id,
                            j.pk,
                            done,
                        )
            return not any(live.values())

        first = plans[head.pk][0]
        result = pipelines.run_text_batch(
            profile=profile,
            prompts=[plans[j.pk][0].get("prompt") or j.prompt for j in jobs],
            negative_prompts=[j.negative_prompt for j in jobs],
            seeds=[j.seed for j in jobs],
            width=head.width,
            height=head.height,
            num_frames=int(first["frames"]),
            steps=head.steps,
            on_step=on_step,
        )
    except (ModelProfileError, pipelines.ModelLoadError) as exc:
        log.error("batch %s: model unavailable: %s", batch_id, exc)
        return ", ".join(_fail(j, j.attempts, [], error=MODEL_UNAVAILABLE, detail=str(exc)) for j in jobs)
    except Exception as exc:  # the worker must survive any one batch
        log.exception("batch %s failed", batch_id)
        detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"[:5000]
        return ", ".join(_fail(j, j.attempts, [], error=GENERATION_FAILED, detail=detail) for j in jobs)

    # Fair split: the call's compute per job per step, times the steps the job was live.
    per_job = result.compute_seconds / size
    outcomes: list[str] = []
    for index, j in enumerate(jobs):
        steps = stopped_at.get(j.pk, result.steps_done)
        charged = per_job * steps / max(1, result.total_steps)
        if j.pk in stopped_at or result.cancelled:
            usage = services.UsageStats(
                device_name=result.device_name,
                compute_seconds=charged,
                wall_seconds=time.perf_counter() - wall_start,
                steps=steps,
                frames=0,
                peak_memory_bytes=result.peak_memory_bytes,
                batch_size=size,
                batch_compute_seconds=result.compute_seconds,
                batch_id=batch_id,
                shots=(
                    {
                        "shot": 1,
                        "prompt": (plans[j.pk][0].get("prompt") or "")[:200],
                        "segments": 1,
                        "frames": 0,
                        "steps": steps,
                        "compute_seconds": round(charged, 4),
                    },
                ),
            )
            _db(services.job_finish_cancelled, job_id=j.pk, attempt=j.attempts, usage=usage)
            outcomes.append("cancelled")
            continue
        mine = pipelines.RunResult(result.frames[index], charged, steps, result.peak_memory_bytes, result.device_name)
        token = current_job_id.set(j.pk)
        try:
            outcomes.append(
                _run_claimed(
                    j, shared=Shared(mine, size, result.compute_seconds, batch_id, wall_start), finisher=finisher
                )
            )
        finally:
            current_job_id.reset(token)
    return f"batch of {size} ({batch_id}): " + ", ".join(outcomes)


def _run_claimed(job: GenerationJob, shared: Shared | None = None, finisher: Finisher | None = None) -> str:
    attempt = job.attempts
    wall_start = shared.wall_start if shared is not None else time.perf_counter()
    interval = progress_interval_seconds()
    last = _Reported()
    segments = job.segments or plan.legacy_segments(job)
    stored: list[str] = []
    shots: dict[int, dict[str, Any]] = {}
    ran = _Ran()
    inputs: list[dict[str, Any]] = []

    def usage(frames: int) -> services.UsageStats:
        return services.UsageStats(
            device_name=ran.device,
            compute_seconds=ran.compute,
            wall_seconds=time.perf_counter() - wall_start,
            steps=ran.steps,
            frames=frames,
            peak_memory_bytes=ran.peak,
            shots=tuple(shots[k] for k in sorted(shots)),
            inputs=tuple(inputs),
            batch_size=shared.batch_size if shared is not None else 1,
            batch_compute_seconds=shared.batch_compute_seconds if shared is not None else ran.compute,
            batch_id=shared.batch_id if shared is not None else "",
        )

    try:
        profile: ModelProfile = get_profile(job.model_profile)
        weights = plan.weights(segments, profile=profile, steps=job.steps)
        total_weight = sum(weights) or 1.0
        ingredients: list[provenance.Ingredient] = []
        video: np.ndarray | None = None
        source = job.source_job  # None (no query) when the job has no source
        if source is not None:
            if not source.video.name:
                raise ValueError(f"the source video of job {job.pk} has no file")
            source_mp4 = _read(source.video.name)
            video = media.decode_frames(source_mp4)
            ingredients.append(
                provenance.Ingredient(source_mp4, "video/mp4", f"source video (generation {job.source_job_id})")
            )
        images = {img.pk: img for img in InputImage.objects.filter(pk__in=plan.image_ids(segments))}
        image_data = {pk: images_mod.read_image(img) for pk, img in images.items()}
        for seg in segments:
            if seg.get("image") is not None and not any(i.get("image") == seg["image"] for i in inputs):
                img = images[seg["image"]]
                role = f"start image of shot {int(seg.get('shot', 0)) + 1}"
                ingredients.append(provenance.Ingredient(image_data[img.pk], "image/png", role))
                inputs.append(
                    {
                        "kind": "image",
                        "image": img.pk,
                        "role": role,
                        "sha256": img.sha256,
                        "width": img.width,
                        "height": img.height,
                        "bytes": img.bytes,
                    }
                )
        if source is not None:
            inputs.append(
                {
                    "kind": "video",
                    "generation": job.source_job_id,
                    "role": "source video",
                    "sha256": source.signed_sha256,
                    "frames": source.num_frames,
                }
            )

        for index, seg in enumerate(segments):
            done_before = sum(weights[:index])

            def on_step(done: int, total: int, index: int = index, done_before: float = done_before) -> bool:
                now = time.perf_counter()
                if now - last.at >= interval or done >= total:
                    last.at = now
                    fraction = done / max(1, total)
                    # steps are 0-90 %; decoding/encoding/signing the last 10 %
                    overall = 90 * (done_before + fraction * weights[index]) / total_weight
                    last.cancel = _db(
                        services.job_report_progress,
                        job_id=job.pk,
                        attempt=attempt,
                        progress=int(overall),
                        segment=index,
                        segment_progress=int(100 * fraction),
                    )
                return last.cancel

            from_batch = index == 0 and shared is not None
            if not from_batch:  # a batched first call reported its own progress
                _db(
                    services.job_report_progress,
                    job_id=job.pk,
                    attempt=attempt,
                    progress=int(90 * done_before / total_weight),
                    segment=index,
                    segment_progress=0,
                )
            before = 0 if video is None else len(video)
            op = seg["op"]
            common: _CallArgs = {
                "profile": profile,
                "prompt": seg.get("prompt") or job.prompt,
                "negative_prompt": job.negative_prompt,
                "seed": job.seed + index,
                "width": job.width,
                "height": job.height,
                "steps": job.steps,
                "on_step": on_step,
            }
            result: pipelines.RunResult | None = None
            if index == 0 and shared is not None:  # from_batch
                result = shared.result
            elif op == "trim":
                start = int(seg["start"])
                video = _so_far(video, op)[start : start + int(seg["frames"])]
            elif op == "text":
                result = pipelines.run(mode="text_to_video", num_frames=int(seg["frames"]), **common)
            elif op == "image":
                still = images_mod.fit_image(image_data[int(seg["image"])], width=job.width, height=job.height)
                result = pipelines.run(mode="image_to_video", num_frames=int(seg["frames"]), image=still, **common)
            elif op == "extend":
                result = pipelines.run(
                    mode="extension",
                    num_frames=before + int(seg["frames"]),
                    strength=seg.get("strength"),
                    source_frames=video,
                    added_frames=int(seg["frames"]),
                    **common,
                )
            elif op == "vary":
                result = pipelines.run(
                    mode="variation",
                    num_frames=int(seg["frames"]),
                    strength=seg.get("strength"),
                    source_frames=video,
                    **common,
                )
            elif op == "loop":
                seam = int(seg["seam"])
                a = seam // 2
                source_frames = _so_far(video, op)
                clip = media.np_concat(source_frames[len(source_frames) - a :], source_frames[: seam - a])
                result = pipelines.run(
                    mode="variation", num_frames=seam, strength=seg.get("strength"), source_frames=clip, **common
                )
            else:
                raise ValueError(f"unknown segment op {op!r}")
            line = shots.setdefault(
                int(seg.get("shot", 0)),
                {
                    "shot": int(seg.get("shot", 0)) + 1,
                    "prompt": (seg.get("prompt") or "")[:200],
                    "segments": 0,
                    "frames": 0,
                    "steps": 0,
                    "compute_seconds": 0.0,
                },
            )
            line["segments"] += 1
            if result is not None:
                ran.compute += result.compute_seconds
                ran.steps += result.steps_done
                ran.peak = max(ran.peak, result.peak_memory_bytes)
                ran.device = result.device_name
                line["steps"] += result.steps_done
                line["compute_seconds"] = round(line["compute_seconds"] + result.compute_seconds, 4)
                if result.cancelled:
                    # Stopped at the artist's request: they pay for the steps that ran.
                    _db(services.job_finish_cancelled, job_id=job.pk, attempt=attempt, usage=usage(0))
                    return "cancelled"
                made = result.frames
                if made is None:  # only a cancelled call has no frames, and that returned above
                    raise ValueError(f"the {op} call of job {job.pk} returned no frames")
                if op in ("text", "image"):
                    video = media.np_concat(video, made[:-1]) if (seg.get("cut") and video is not None) else made
                elif op == "loop":
                    video = _loop(_so_far(video, op), made, int(seg["seam"]))
                else:
                    video = made
            now_frames = len(_so_far(video, op))
            line["frames"] += now_frames - before if op not in ("vary", "loop", "trim") else now_frames

        frames = _so_far(video, "finish")

        def finish() -> str:
            return _finish(job, attempt, frames, segments, ingredients, usage, stored)

        if finisher is not None:
            # The pipeline calls are done; encoding, signing and storing run on the
            # finisher thread while this one claims and denoises the next batch.
            finisher.append((job.pk, finish))
            return "finishing"
        return finish()
    except (ModelProfileError, pipelines.ModelLoadError) as exc:
        log.error("job %s: model unavailable: %s", job.pk, exc)
        return _fail(job, attempt, stored, error=MODEL_UNAVAILABLE, detail=str(exc))
    except Exception as exc:  # the worker must survive any one job
        log.exception("job %s failed", job.pk)
        return _fail(
            job,
            attempt,
            stored,
            error=GENERATION_FAILED,
            detail=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"[:5000],
        )


def _finish(
    job: GenerationJob,
    attempt: int,
    frames: np.ndarray,
    segments: list[dict[str, Any]],
    ingredients: list[provenance.Ingredient],
    usage: Callable[[int], services.UsageStats],
    stored: list[str],
) -> str:
    """The last 10 %: MP4, poster, signed manifest, storage, and the success with its usage."""
    try:
        _db(
            services.job_report_progress,
            job_id=job.pk,
            attempt=attempt,
            progress=92,
            segment=len(segments) - 1,
            segment_progress=100,
        )
        mp4 = media.encode_mp4(frames, fps=job.fps)
        poster = media.poster_jpeg(frames)
        claims = provenance.ProvenanceClaims.from_dict(job.provenance_claims)
        recipe = {
            "mode": job.mode,
            "shots": plan.shot_count(segments),
            "segments": len(segments),
            "frames": int(frames.shape[0]),
            "fps": job.fps,
            "seed": job.seed,
        }
        signed = provenance.sign_mp4(
            mp4,
            claims=claims,
            model_profile=job.model_profile,
            title=f"Atelier generation {job.pk}",
            recipe=recipe,
            ingredients=ingredients,
        )  # last step on the bytes
        outputs = services.Outputs(
            video_name=_store(job, "video", "video.mp4", signed.data, stored),
            thumbnail_name=_store(job, "thumbnail", "poster.jpg", poster, stored),
            output_sha256=signed.unsigned_sha256,
            signed_sha256=signed.signed_sha256,
            provenance=signed.manifest,
            manifest_validation_state=signed.validation_state,
        )
        if not _db(
            services.job_succeed, job_id=job.pk, attempt=attempt, outputs=outputs, usage=usage(int(frames.shape[0]))
        ):
            log.warning("job %s attempt %s finished after being reaped; discarding its output", job.pk, attempt)
            _delete_unreferenced(job.pk, stored)
            return "discarded"
        return "succeeded"
    except Exception as exc:  # the worker must survive any one job
        log.exception("job %s failed while finishing", job.pk)
        return _fail(
            job,
            attempt,
            stored,
            error=GENERATION_FAILED,
            detail=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"[:5000],
        )


def _fail(job: GenerationJob, attempt: int, stored: list[str], *, error: str, detail: str) -> str:
    """A job that fails failed on our side (model, storage, encoding, signing, database):
    no UsageRecord, so nothing is charged and the reservation is released; files written
    for it are deleted."""
    try:
        _db(services.job_fail, job_id=job.pk, attempt=attempt, error=error, detail=detail, usage=None)
    finally:
        _delete_unreferenced(job.pk, stored)
    return "failed"
