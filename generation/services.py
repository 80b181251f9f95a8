"""Engine write path. Every state change of a job is one service here; tasks, admin
actions and the platform call these and nothing else.

The platform decides policy (who may submit, the budget); the engine enforces what it is
given: the reservation happens under a row lock in the same transaction that creates the
job, and the job is enqueued only once that transaction commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, FloatField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from generation import plan, presets
from generation.conf import (
    MODES,
    ModelProfile,
    get_profile,
    lost_after_seconds,
    redispatch_grace_seconds,
    redispatch_lost_message_seconds,
    requeue_lost_jobs,
)
from generation.errors import InvalidParameters, InvalidTransition, QuotaExceeded, SourceNotUsable
from generation.models import BudgetAccount, GenerationJob, InputImage, UsageRecord, Worker
from generation.provenance import ProvenanceClaims
from generation.signals import jobs_updated

log = logging.getLogger(__name__)

Status = GenerationJob.Status
MAX_SEED = 2**31 - 1


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """Policy handed in by the platform for one submission."""

    max_concurrent_jobs: int
    daily_compute_seconds: float
    reserve_seconds: float  # estimate held against the day's budget until the job finishes


@dataclass(frozen=True)
class GenerationParams:
    """Validated, fully resolved parameters (build with ``build_params``)."""

    profile_key: str
    mode: str
    prompt: str
    negative_prompt: str
    seed: int
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    duration_seconds: float
    aspect_ratio: str
    resolution: str
    strength: float | None = None
    source_job_id: int | None = None
    added_frames: int = 0
    segments: tuple[dict[str, Any], ...] = ()  # the plan (generation.plan)
    input_image_id: int | None = None
    image_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Shot:
    """One storyboard shot as the platform hands it in (image: the artist's InputImage)."""

    prompt: str
    seconds: float
    image: Any = None


@dataclass(frozen=True)
class UsageStats:
    device_name: str
    compute_seconds: float
    wall_seconds: float
    steps: int
    frames: int
    peak_memory_bytes: int
    shots: tuple[dict[str, Any], ...] = ()  # UsageRecord.shots: one line per storyboard shot
    inputs: tuple[dict[str, Any], ...] = ()  # UsageRecord.inputs: what the job read
    batch_size: int = 1
    batch_compute_seconds: float = 0.0
    batch_id: str = ""


@dataclass
class Outputs:
    video_name: str = ""
    thumbnail_name: str = ""
    output_sha256: str = ""
    signed_sha256: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    manifest_validation_state: str = ""


def _text(value: Any, *, field_name: str, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidParameters("Must be text.", field=field_name)
    text = value.strip()
    if required and not text:
        raise InvalidParameters("Write a prompt describing the video.", field=field_name)
    if len(text) > GenerationJob.PROMPT_MAX_LENGTH:
        raise InvalidParameters(
            f"At most {GenerationJob.PROMPT_MAX_LENGTH} characters (this one has {len(text)}).", field=field_name
        )
    return text


def build_params(
    *,
    mode: str,
    prompt: str,
    negative_prompt: str | None = "",
    duration_seconds: float | None = None,
    aspect_ratio: str | None = "16:9",
    resolution: str | None = "preview",
    seed: int | None = None,
    strength: float | None = None,
    steps: int | None = None,
    source_job: GenerationJob | None = None,
    profile_key: str | None = None,
    image: Any = None,
    shots: list[Shot] | None = None,
    preset: str | None = None,
    keep_from_seconds: float | None = None,
    keep_to_seconds: float | None = None,
) -> GenerationParams:
    """Validate raw parameters into GenerationParams with the job's plan (generation.plan);
    raises InvalidParameters (400) with the offending field. Ownership of ``source_job``
    and of the images is checked by ``job_submit``."""
    if mode not in MODES:
        raise InvalidParameters(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}.", field="mode")
    profile = get_profile(
        profile_key if profile_key else (source_job.model_profile if source_job else None), check_dir=False
    )
    prompt_required = mode not in (GenerationJob.Mode.STORYBOARD, GenerationJob.Mode.LOOP)
    prompt = _text(prompt, field_name="prompt", required=prompt_required)
    negative_prompt = _text(negative_prompt, field_name="negative_prompt", required=False)

    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidParameters(f"Seed must be a whole number from 0 to {MAX_SEED}.", field="seed")

    if steps is None:
        steps = profile.steps
    elif isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= profile.max_steps:
        raise InvalidParameters(f"Steps must be between 1 and {profile.max_steps}.", field="steps")

    if mode in GenerationJob.ORIGINAL_MODES:
        return _original_params(
            mode=mode,
            prompt=prompt,
            negative_prompt=negative_prompt,
            seed=seed,
            steps=steps,
            profile=profile,
            duration_seconds=duration_seconds,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            source_job=source_job,
            image=image,
            shots=shots,
        )
    return _derived_params(
        mode=mode,
        prompt=prompt,
        negative_prompt=negative_prompt,
        seed=seed,
        steps=steps,
        profile=profile,
        duration_seconds=duration_seconds,
        strength=strength,
        source_job=source_job,
        preset=preset,
        keep_from_seconds=keep_from_seconds,
        keep_to_seconds=keep_to_seconds,
    )


def _check_image_support(profile: ModelProfile, field: str) -> None:
    if not profile.image_to_video:
        raise InvalidParameters(
            f"The model {profile.label or profile.key} cannot start from an image (it has no image-to-video pipeline).",
            field=field,
        )


def _check_total(frames: int, profile: ModelProfile, field: str) -> None:
    longest = presets.longest_seconds(profile)
    if presets.result_seconds(frames, profile.fps) > longest + 1e-9:
        raise InvalidParameters(
            f"That makes a {presets.result_seconds(frames, profile.fps):g} s video; the model "
            f"{profile.label or profile.key} makes videos of at most {longest} s.",
            field=field,
        )


def _original_params(
    *,
    mode: str,
    prompt: str,
    negative_prompt: str,
    seed: int,
    steps: int,
    profile: ModelProfile,
    duration_seconds: float | None,
    aspect_ratio: str | None,
    resolution: str | None,
    source_job: GenerationJob | None,
    image: InputImage | None,
    shots: list[Shot] | None,
) -> GenerationParams:
    if source_job is not None:
        raise InvalidParameters(
            f"{GenerationJob.Mode(mode).label} does not take a source generation.", field="source_generation"
        )
    width, height = presets.frame_size(aspect_ratio, resolution, profile=profile)
    assert aspect_ratio is not None and resolution is not None  # frame_size refuses a missing one (400)
    if mode == GenerationJob.Mode.STORYBOARD:
        if image is not None:
            raise InvalidParameters("A storyboard takes its images per shot.", field="image")
        segments = _storyboard_segments(shots, profile=profile)
        prompt = prompt or segments[0]["prompt"]
    else:
        if shots:
            raise InvalidParameters("Only a storyboard has shots.", field="shots")
        if duration_seconds is None:
            raise InvalidParameters("Choose a duration.", field="duration_seconds")
        frames = presets.frames_for_duration(duration_seconds, profile=profile)
        if mode == GenerationJob.Mode.IMAGE_TO_VIDEO:
            if image is None:
                raise InvalidParameters("Upload the still the video starts from.", field="image")
            _check_image_support(profile, "image")
        elif image is not None:
            raise InvalidParameters("To start from an image, choose image to video.", field="image")
        segments = plan.clip_chain(
            op="image" if image is not None else "text",
            prompt=prompt,
            frames=frames,
            profile=profile,
            shot=0,
            seconds=float(duration_seconds),
            image=image.pk if image is not None else None,
        )
    total = plan.result_frames(segments)
    _check_total(total, profile, "shots" if mode == GenerationJob.Mode.STORYBOARD else "duration_seconds")
    ids = plan.image_ids(segments)
    first = segments[0].get("image")
    return GenerationParams(
        profile_key=profile.key,
        mode=mode,
        prompt=prompt,
        negative_prompt=negative_prompt,
        seed=seed,
        width=width,
        height=height,
        num_frames=total,
        fps=profile.fps,
        steps=steps,
        duration_seconds=presets.duration_of(total, profile.fps),
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        strength=None,
        segments=tuple(segments),
        input_image_id=first,
        image_ids=tuple(ids),
    )


def _storyboard_segments(shots: list[Shot] | None, *, profile: ModelProfile) -> list[dict[str, Any]]:
    if not shots:
        raise InvalidParameters("Lay out at least one shot.", field="shots")
    if len(shots) > presets.MAX_SHOTS:
        raise InvalidParameters(f"A storyboard has at most {presets.MAX_SHOTS} shots.", field="shots")
    segments: list[dict[str, Any]] = []
    for index, shot in enumerate(shots):
        where = f"Shot {index + 1}"
        shot_prompt = _text(getattr(shot, "prompt", None), field_name="shots", required=False)
        if not shot_prompt:
            raise InvalidParameters(f"{where}: write what happens in it.", field="shots")
        # Whatever the platform handed in: validated here, not trusted to be a Shot.
        raw_seconds: Any = getattr(shot, "seconds", None)
        try:
            seconds = float(raw_seconds)
        except (TypeError, ValueError):
            raise InvalidParameters(f"{where}: give its length in seconds.", field="shots") from None
        if not presets.MIN_DURATION_SECONDS <= seconds <= presets.longest_seconds(profile):
            raise InvalidParameters(
                f"{where}: {seconds:g} s; a shot is {presets.MIN_DURATION_SECONDS} to "
                f"{presets.longest_seconds(profile)} s.",
                field="shots",
            )
        image = getattr(shot, "image", None)
        if image is not None:
            _check_image_support(profile, "shots")
        if index == 0 or image is not None:
            frames = presets.frames_for_duration(seconds, profile=profile, field="shots")
            segments += plan.clip_chain(
                op="image" if image is not None else "text",
                prompt=shot_prompt,
                frames=frames,
                profile=profile,
                shot=index,
                seconds=seconds,
                image=image.pk if image is not None else None,
                cut=index > 0,
            )
        else:
            added = presets.extension_frames_for_duration(seconds, profile=profile, field="shots")
            segments += plan.extend_chunks(
                prompt=shot_prompt,
                added=added,
                profile=profile,
                shot=index,
                strength=profile.chain_strength,
                seconds=seconds,
            )
    return segments


def _derived_params(
    *,
    mode: str,
    prompt: str,
    negative_prompt: str,
    seed: int,
    steps: int,
    profile: ModelProfile,
    duration_seconds: float | None,
    strength: float | None,
    source_job: GenerationJob | None,
    preset: str | None,
    keep_from_seconds: float | None,
    keep_to_seconds: float | None,
) -> GenerationParams:
    """variation / extension / loop / re-cut: size, ratio and fps come from the source."""
    if source_job is None:
        raise SourceNotUsable("Pick one of your finished videos to start from.")
    if source_job.status != Status.SUCCEEDED or not source_job.video:
        raise SourceNotUsable("Only a finished (succeeded) video can be used as the source.")
    if source_job.model_profile != profile.key:
        raise SourceNotUsable("The source video was made with another model.")
    presets.check_size(source_job.width, source_job.height, profile=profile)
    prompt = prompt or source_job.prompt
    fps = source_job.fps
    seam_seconds = 0.0  # a loop's, from its preset
    if mode == GenerationJob.Mode.LOOP:
        chosen = presets.LOOP_PRESETS.get(preset or presets.DEFAULT_LOOP_PRESET)
        if chosen is None:
            raise InvalidParameters(f"Choose a loop preset: {', '.join(presets.LOOP_PRESETS)}.", field="preset")
        strength = chosen["strength"] if strength is None else strength
        seam_seconds = chosen["seam_seconds"]
    elif mode == GenerationJob.Mode.RECUT:
        chosen = presets.RECUT_PRESETS.get(preset or presets.DEFAULT_RECUT_PRESET)
        if chosen is None:
            raise InvalidParameters(f"Choose a re-cut preset: {', '.join(presets.RECUT_PRESETS)}.", field="preset")
        strength = chosen["strength"] if strength is None else strength
    elif preset:
        raise InvalidParameters("Presets are for loops and re-cuts.", field="preset")
    if strength is None:
        strength = profile.default_strength
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < float(strength) <= 1:
        raise InvalidParameters("Strength must be above 0 and at most 1.", field="strength")
    strength = float(strength)
    if int(steps * strength) < 1:
        raise InvalidParameters("Steps × strength must be at least 1.", field="strength")
    n = source_job.num_frames
    added = 0
    if mode == GenerationJob.Mode.VARIATION:
        frames = presets.largest_valid_frame_count(min(n, presets.clip_max_frames(profile)))
        segments = [
            {
                "op": "vary",
                "shot": 0,
                "prompt": prompt,
                "frames": frames,
                "strength": strength,
                "seconds": round(frames / fps, 4),
            }
        ]
    elif mode == GenerationJob.Mode.EXTENSION:
        if duration_seconds is None:
            raise InvalidParameters("Choose how many seconds to add.", field="duration_seconds")
        added = presets.extension_frames_for_duration(duration_seconds, profile=profile)
        segments = plan.extend_chunks(
            prompt=prompt, added=added, profile=profile, shot=0, strength=strength, seconds=float(duration_seconds)
        )
    elif mode == GenerationJob.Mode.LOOP:
        presets.largest_valid_frame_count(n)  # at least 5 frames
        seam = min(
            presets.seam_frames(seam_seconds, profile=profile),
            4 * ((n - 1) // 4) + 1,
            presets.clip_max_frames(profile),
        )
        segments = [
            {
                "op": "loop",
                "shot": 0,
                "prompt": prompt,
                "frames": n,
                "seam": seam,
                "strength": strength,
                "seconds": round(n / fps, 4),
            }
        ]
    else:  # re-cut: keep [from, to) of the source, then extend from there
        if keep_from_seconds is None or keep_to_seconds is None:
            raise InvalidParameters("Choose the span to keep (from and to, in seconds).", field="keep_to_seconds")
        try:
            start_s, end_s = float(keep_from_seconds), float(keep_to_seconds)
        except (TypeError, ValueError):
            raise InvalidParameters("The span is given in seconds.", field="keep_from_seconds") from None
        source_seconds = n / fps
        if not 0 <= start_s < end_s <= source_seconds + 1e-9:
            raise InvalidParameters(
                f"Keep a span inside the source: from 0 to {source_seconds:.2f} s, and ‘to’ after ‘from’.",
                field="keep_to_seconds",
            )
        start = int(round(start_s * fps))
        kept = 4 * ((min(n, int(round(end_s * fps))) - start - 1) // 4) + 1
        if kept < 5:
            raise InvalidParameters("Keep at least a third of a second (5 frames).", field="keep_to_seconds")
        if duration_seconds is None:
            raise InvalidParameters("Choose how many seconds to add after the kept span.", field="duration_seconds")
        added = presets.extension_frames_for_duration(duration_seconds, profile=profile)
        segments = [
            {
                "op": "trim",
                "shot": 0,
                "prompt": prompt,
                "frames": kept,
                "start": start,
                "seconds": round(kept / fps, 4),
            },
            *plan.extend_chunks(
                prompt=prompt, added=added, profile=profile, shot=0, strength=strength, seconds=float(duration_seconds)
            ),
        ]
    total = plan.result_frames(segments, source_frames=n)
    _check_total(total, profile, "duration_seconds")
    return GenerationParams(
        profile_key=profile.key,
        mode=mode,
        prompt=prompt,
        negative_prompt=negative_prompt,
        seed=seed,
        width=source_job.width,
        height=source_job.height,
        num_frames=total,
        fps=fps,
        steps=steps,
        duration_seconds=presets.duration_of(total, fps),
        aspect_ratio=source_job.aspect_ratio,
        resolution=source_job.resolution,
        strength=strength,
        source_job_id=source_job.pk,
        added_frames=added,
        segments=tuple(segments),
    )


def estimate_compute_seconds(params: GenerationParams) -> float:
    """A rough, deliberately generous estimate the platform may choose to reserve: every
    pipeline call of the plan."""
    profile = get_profile(params.profile_key, check_dir=False)
    segments = list(params.segments) or [{"op": "text", "frames": params.num_frames}]
    total = 0.0
    for seg in segments:
        generated = plan.generated_frames(seg, profile)
        if not generated:
            continue
        mpx = params.width * params.height * generated / 1e6
        total += profile.estimate_seconds_per_mpx_step * mpx * (plan.steps_of(seg, params.steps) + 2)
    return round(max(1.0, total), 2)


def default_pseudonym(artist_pk: Any) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"artist:{artist_pk}".encode(), hashlib.sha256).hexdigest()
    return f"atelier-artist-{digest[:16]}"


# --- budget -------------------------------------------------------------------------------


def _day_bounds(day: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    # A day of the current time zone, local midnight to local midnight: the product's rule
    # (tester_platform.common.days), which the engine may not import.
    day = day or timezone.localdate()
    return (
        timezone.make_aware(dt.datetime.combine(day, dt.time.min)),
        timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)),
    )


def _charged_seconds_expr() -> Case:
    """A job's charge against its day: its reservation while active, its metered compute
    once finished (nothing for a job that never ran)."""
    return Case(
        When(status__in=GenerationJob.ACTIVE_STATUSES, then=F("reserved_seconds")),
        default=Coalesce(F("usage__compute_seconds"), Value(0.0)),
        output_field=FloatField(),
    )


def _lock_budget_account(*, artist_id: Any, program_id: Any) -> BudgetAccount:
    try:
        with transaction.atomic():  # savepoint: a lost get_or_create race must not poison the outer transaction
            BudgetAccount.objects.get_or_create(artist_id=artist_id, program_id=program_id)
    except IntegrityError:
        pass
    return BudgetAccount.objects.select_for_update().get(artist_id=artist_id, program_id=program_id)


@transaction.atomic
def job_submit(
    *,
    artist: Any,
    program_id: int,
    enrollment_id: int,
    consent_record_id: int,
    training_use: bool,
    params: GenerationParams,
    budget: Budget,
    artist_pseudonym: str | None = None,
    consent_version: int | None = None,
    program_ref: str = "",
) -> GenerationJob:
    """Reserve budget and create the job in one transaction; enqueue after commit.

    Raises QuotaExceeded (429) or SourceNotUsable (400)."""
    profile = get_profile(params.profile_key, check_dir=False)
    if params.source_job_id is not None:
        source = GenerationJob.objects.filter(pk=params.source_job_id).only("artist_id", "program_id", "status").first()
        if source is None or source.artist_id != artist.pk or source.program_id != program_id:
            raise SourceNotUsable("That source video is not one of your generations in this program.")
        if source.status != Status.SUCCEEDED:
            raise SourceNotUsable("Only a finished (succeeded) video can be used as the source.")
    if params.image_ids:
        owned = InputImage.objects.filter(pk__in=params.image_ids, artist_id=artist.pk, program_id=program_id).count()
        if owned != len(set(params.image_ids)):
            raise InvalidParameters(
                "That image is not one you uploaded in this program.",
                field="image" if params.mode == GenerationJob.Mode.IMAGE_TO_VIDEO else "shots",
            )

    account = _lock_budget_account(artist_id=artist.pk, program_id=program_id)
    active = GenerationJob.objects.filter(
        artist_id=artist.pk, program_id=program_id, status__in=GenerationJob.ACTIVE_STATUSES
    ).count()
    if active >= budget.max_concurrent_jobs:
        raise QuotaExceeded(
            f"You already have {active} generation(s) queued or running; the limit is "
            f"{budget.max_concurrent_jobs}. Wait for one to finish or cancel it.",
            field="concurrent_jobs",
        )
    start, end = _day_bounds()
    charged = _charged_today(artist_id=artist.pk, program_id=program_id, start=start, end=end)
    reserve = max(0.0, float(budget.reserve_seconds))
    if charged + reserve > budget.daily_compute_seconds + 1e-9:
        left = max(0.0, budget.daily_compute_seconds - charged)
        raise QuotaExceeded(
            f"This needs about {reserve:.0f} compute seconds but only {left:.0f} of today's "
            f"{budget.daily_compute_seconds:.0f} are left. Try a shorter or smaller video, or wait until tomorrow.",
            field="daily_compute_seconds",
        )

    now = timezone.now()
    claims = ProvenanceClaims(
        artist_pseudonym=artist_pseudonym or default_pseudonym(artist.pk),
        consent_record_id=consent_record_id,
        consent_version=consent_version,
        training_use=bool(training_use),
        program_ref=program_ref,
    )
    task_id = str(uuid.uuid4())
    job = GenerationJob.objects.create(
        artist=artist,
        program_id=program_id,
        enrollment_id=enrollment_id,
        consent_record_id=consent_record_id,
        training_use=bool(training_use),
        mode=params.mode,
        prompt=params.prompt,
        negative_prompt=params.negative_prompt,
        seed=params.seed,
        source_job_id=params.source_job_id,
        input_image_id=params.input_image_id,
        segments=list(params.segments),
        strength=params.strength,
        width=params.width,
        height=params.height,
        num_frames=params.num_frames,
        added_frames=params.added_frames,
        fps=params.fps,
        steps=params.steps,
        duration_seconds=params.duration_seconds,
        aspect_ratio=params.aspect_ratio,
        resolution=params.resolution,
        model_profile=params.profile_key,
        status=Status.QUEUED,
        enqueued_at=now,
        celery_task_id=task_id,
        provenance_claims=claims.to_dict(),
        reserved_seconds=reserve,
    )
    account.last_reserved_at = now
    account.save(update_fields=["last_reserved_at"])
    _enqueue_on_commit(job_id=job.pk, queue=profile.queue, task_id=task_id)
    return job


def _charged_today(*, artist_id: Any, program_id: Any, start: dt.datetime, end: dt.datetime) -> float:
    total = GenerationJob.objects.filter(
        artist_id=artist_id, program_id=program_id, created_at__gte=start, created_at__lt=end
    ).aggregate(total=Sum(_charged_seconds_expr()))["total"]
    return float(total or 0.0)


def job_dispatch(*, job_id: int, queue: str, task_id: str) -> bool:
    """Publish the job's message; record when it reached the broker. A broker that is down
    costs a bounded wait (the publish retry policy and connection timeouts in settings),
    never the job: it stays queued with `dispatched_at` unset and the dispatch sweep
    publishes it again. A second message for the same job is harmless: claims are
    conditional."""
    from generation.tasks import run_job

    try:
        run_job.apply_async(args=[job_id], queue=queue, task_id=task_id)
    except Exception:  # any broker or network error: the sweep repairs it
        log.warning("job %s: publishing to %s failed; the dispatch sweep will retry", job_id, queue, exc_info=True)
        return False
    GenerationJob.objects.filter(pk=job_id, status=Status.QUEUED).update(dispatched_at=timezone.now())
    return True


def _enqueue_on_commit(*, job_id: int, queue: str, task_id: str) -> None:
    transaction.on_commit(lambda: job_dispatch(job_id=job_id, queue=queue, task_id=task_id))


def jobs_redispatch(*, now: dt.datetime | None = None) -> list[int]:
    """The dispatch sweep: publish again every queued job whose publish failed (or whose
    delivery a worker handed back), and, as a last resort against a broker that lost
    messages, jobs queued far longer than any queue should hold them."""
    now = now or timezone.now()
    grace = dt.timedelta(seconds=redispatch_grace_seconds())
    lost_after = dt.timedelta(seconds=redispatch_lost_message_seconds())
    due = (
        GenerationJob.objects.filter(status=Status.QUEUED, cancel_requested=False)
        .filter(Q(dispatched_at__isnull=True, created_at__lt=now - grace) | Q(dispatched_at__lt=now - lost_after))
        .values_list("pk", "model_profile", "celery_task_id")
    )
    sent = []
    for job_id, profile_key, task_id in list(due[:500]):
        if job_dispatch(
            job_id=job_id, queue=get_profile(profile_key, check_dir=False).queue, task_id=task_id or str(uuid.uuid4())
        ):
            sent.append(job_id)
    if sent:
        log.warning("dispatch sweep: published %d queued job(s) again: %s", len(sent), sent[:20])
    return sent


def job_hand_back(*, job_id: int) -> None:
    """A worker that cannot run jobs now (its media is not writable) hands a delivery back
    unclaimed; the sweep publishes it again later, for this worker once healthy or another."""
    GenerationJob.objects.filter(pk=job_id, status=Status.QUEUED).update(dispatched_at=None)


# --- worker side --------------------------------------------------------------------------


def job_claim(*, job_id: int, worker: Worker | None) -> GenerationJob | None:
    """queued → running as one conditional UPDATE: of two deliveries, one wins."""
    now = timezone.now()
    claimed = GenerationJob.objects.filter(pk=job_id, status=Status.QUEUED, cancel_requested=False).update(
        status=Status.RUNNING,
        started_at=now,
        last_seen_at=now,
        worker=worker,
        progress=0,
        current_segment=0,
        segment_progress=0,
        attempts=F("attempts") + 1,
    )
    if claimed != 1:
        return None
    job = GenerationJob.objects.get(pk=job_id)
    jobs_updated.send(sender=GenerationJob, artist_ids={job.artist_id})
    return job


# How many queued jobs a claim looks at, in fair order, to find its batch.
CLAIM_WINDOW = 200


def _fair_queue(profile_keys: list[str], *, now: dt.datetime) -> QuerySet[GenerationJob]:
    """Queued jobs of these profiles in fair order, per artist within each program: an
    artist's place is the jobs they already had started lately (running, or started within
    the fair-share window) plus the job's rank among their own queued jobs (oldest first).
    Round-robin, with memory: one artist's burst of 20 puts their next job behind every
    other artist's first, and an artist who has just been served waits behind one who has
    not, so another artist's single job is delayed by at most one batch. Ties: oldest first."""
    from django.db.models import IntegerField, OuterRef, Subquery, Window
    from django.db.models.functions import RowNumber

    from generation.conf import fair_share_seconds

    since = now - dt.timedelta(seconds=fair_share_seconds())
    served = (
        GenerationJob.objects.filter(artist_id=OuterRef("artist_id"), program_id=OuterRef("program_id"))
        .filter(Q(status=Status.RUNNING) | Q(started_at__gte=since))
        .order_by()
        .values("artist_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        GenerationJob.objects.filter(status=Status.QUEUED, cancel_requested=False, model_profile__in=profile_keys)
        .annotate(
            turn=Window(
                RowNumber(),
                partition_by=[F("program_id"), F("artist_id")],
                order_by=[F("created_at").asc(), F("id").asc()],
            ),
            served=Coalesce(Subquery(served, output_field=IntegerField()), Value(0)),
        )
        .order_by(F("turn") + F("served"), "created_at", "id")
    )


def _claim_one(job_id: int, worker: Worker | None, now: dt.datetime) -> bool:
    return (
        GenerationJob.objects.filter(pk=job_id, status=Status.QUEUED, cancel_requested=False).update(
            status=Status.RUNNING,
            started_at=now,
            last_seen_at=now,
            worker=worker,
            progress=0,
            current_segment=0,
            segment_progress=0,
            attempts=F("attempts") + 1,
        )
        == 1
    )


def jobs_claim_batch(*, job_id: int, worker: Worker | None) -> list[GenerationJob]:
    """What a worker runs for one delivered message. The message is a wake-up for its
    queue: the worker claims the fairest queued job there (not necessarily the message's
    own), then up to the profile's batch limit of queued jobs compatible with it (same
    profile, mode, size, frames and steps; first pipeline call a text clip), in fair order.

    Each claim is the same conditional UPDATE as ``job_claim``: of two workers (or two
    messages) racing for a job, one wins, so batching never runs a job twice. Every job
    keeps its own message; a message whose job was already taken claims whatever is
    fairest next, or nothing ("not claimable"). [] when there is nothing to run."""
    from generation import plan
    from generation.conf import batch_limit, profiles
    from generation.errors import ModelProfileError

    row = GenerationJob.objects.filter(pk=job_id).values("model_profile").first()
    if row is None:
        return []
    try:
        queue = get_profile(row["model_profile"], check_dir=False).queue
        keys = sorted(k for k in profiles() if get_profile(k, check_dir=False).queue == queue)
    except ModelProfileError:
        keys = [row["model_profile"]]
    now = timezone.now()
    fields = ("pk", "model_profile", "mode", "width", "height", "steps", "num_frames", "segments")
    candidates = list(_fair_queue(keys, now=now).values(*fields)[:CLAIM_WINDOW])
    head = next((c for c in candidates if _claim_one(c["pk"], worker, now)), None)
    if head is None:
        return []
    claimed = [head["pk"]]
    key = plan.batch_key(head)
    if key is not None:
        try:
            limit = batch_limit(
                get_profile(head["model_profile"], check_dir=False),
                width=head["width"],
                height=head["height"],
                frames=key[-2],
            )
        except ModelProfileError:
            limit = 1
        for c in candidates:
            if len(claimed) >= limit:
                break
            if c["pk"] not in claimed and plan.batch_key(c) == key and _claim_one(c["pk"], worker, now):
                claimed.append(c["pk"])
    jobs = {j.pk: j for j in GenerationJob.objects.filter(pk__in=claimed)}
    jobs_updated.send(sender=GenerationJob, artist_ids={j.artist_id for j in jobs.values()})
    return [jobs[pk] for pk in claimed]


def job_report_progress(
    *, job_id: int, attempt: int, progress: int, segment: int | None = None, segment_progress: int | None = None
) -> bool:
    """Write progress (overall, and within the plan's current segment); returns True when
    the artist asked to cancel (one round trip of the callback both publishes and listens)."""
    progress = max(0, min(100, int(progress)))
    fields: dict[str, Any] = {"progress": progress, "last_seen_at": timezone.now()}
    if segment is not None:
        fields["current_segment"] = max(0, int(segment))
    if segment_progress is not None:
        fields["segment_progress"] = max(0, min(100, int(segment_progress)))
    GenerationJob.objects.filter(pk=job_id, status=Status.RUNNING, attempts=attempt).update(**fields)
    return job_cancel_requested(job_id=job_id)


def jobs_touch(*, job_ids: list[int]) -> None:
    """The worker's heartbeat vouches for the jobs it is running between progress ticks
    (decoding, encoding and signing report no steps)."""
    if job_ids:
        GenerationJob.objects.filter(pk__in=job_ids, status=Status.RUNNING).update(last_seen_at=timezone.now())


def job_cancel_requested(*, job_id: int) -> bool:
    row = GenerationJob.objects.filter(pk=job_id).values_list("cancel_requested", "status").first()
    return row is None or row[0] or row[1] != Status.RUNNING


def _lock_running(job_id: int, attempt: int) -> GenerationJob | None:
    job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.status != Status.RUNNING or job.attempts != attempt:
        # Reaped (failed or requeued) while this attempt was still running: its result is void.
        return None
    return job


def _write_usage(job: GenerationJob, usage: UsageStats, *, cancelled: bool) -> UsageRecord:
    queue_seconds = 0.0
    if job.started_at and (job.enqueued_at or job.created_at):
        queue_seconds = max(0.0, (job.started_at - (job.enqueued_at or job.created_at)).total_seconds())
    return UsageRecord.objects.create(
        job=job,
        artist_id=job.artist_id,
        program_id=job.program_id,
        worker=job.worker,
        device_name=usage.device_name,
        model_profile=job.model_profile,
        compute_seconds=max(0.0, usage.compute_seconds),
        wall_seconds=max(usage.wall_seconds, usage.compute_seconds),
        queue_seconds=queue_seconds,
        frames=usage.frames,
        width=job.width,
        height=job.height,
        steps=usage.steps,
        peak_memory_bytes=int(usage.peak_memory_bytes),
        cancelled=cancelled,
        shots=list(usage.shots),
        inputs=list(usage.inputs),
        batch_size=max(1, int(usage.batch_size)),
        batch_compute_seconds=max(0.0, usage.batch_compute_seconds or usage.compute_seconds),
        batch_id=usage.batch_id,
    )


@transaction.atomic
def job_succeed(*, job_id: int, attempt: int, outputs: Outputs, usage: UsageStats) -> bool:
    job = _lock_running(job_id, attempt)
    if job is None:
        return False
    job.status = Status.SUCCEEDED
    job.progress = 100
    job.finished_at = timezone.now()
    job.video.name = outputs.video_name
    job.thumbnail.name = outputs.thumbnail_name
    job.output_sha256 = outputs.output_sha256
    job.signed_sha256 = outputs.signed_sha256
    job.provenance = outputs.provenance
    job.manifest_validation_state = outputs.manifest_validation_state
    job.save(
        update_fields=[
            "status",
            "progress",
            "finished_at",
            "video",
            "thumbnail",
            "output_sha256",
            "signed_sha256",
            "provenance",
            "manifest_validation_state",
        ]
    )
    _write_usage(job, usage, cancelled=False)
    if job.worker_id:
        Worker.objects.filter(pk=job.worker_id).update(jobs_done=F("jobs_done") + 1)
    return True


@transaction.atomic
def job_fail(*, job_id: int, attempt: int, error: str, detail: str = "", usage: UsageStats | None = None) -> bool:
    job = _lock_running(job_id, attempt)
    if job is None:
        return False
    job.status = Status.FAILED
    job.finished_at = timezone.now()
    job.error = error
    job.error_detail = detail[:5000]
    job.save(update_fields=["status", "finished_at", "error", "error_detail"])
    if usage is not None:
        _write_usage(job, usage, cancelled=False)
    if job.worker_id:
        Worker.objects.filter(pk=job.worker_id).update(jobs_failed=F("jobs_failed") + 1)
    return True


@transaction.atomic
def job_finish_cancelled(*, job_id: int, attempt: int, usage: UsageStats) -> bool:
    """The worker stopped the pipeline at the artist's request; bill what ran."""
    job = _lock_running(job_id, attempt)
    if job is None:
        return False
    job.status = Status.CANCELLED
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "finished_at"])
    _write_usage(job, usage, cancelled=True)
    return True


@transaction.atomic
def job_cancel(*, job: GenerationJob, actor: Any) -> GenerationJob:
    """Cancel a queued job at once; ask the worker to stop a running one (it stops at
    the next denoising step and records the usage up to there). 409 when finished."""
    locked = GenerationJob.objects.select_for_update().get(pk=job.pk)
    if locked.status not in GenerationJob.ACTIVE_STATUSES:
        raise InvalidTransition(f"This generation has already {locked.get_status_display().lower()}.", field="status")
    locked.cancel_requested = True
    locked.cancelled_by = actor if getattr(actor, "pk", None) else None
    fields = ["cancel_requested", "cancelled_by"]
    if locked.status == Status.QUEUED:
        # The queued message will find the job not claimable and drop it.
        locked.status = Status.CANCELLED
        locked.finished_at = timezone.now()
        fields += ["status", "finished_at"]
    locked.save(update_fields=fields)
    return locked


@transaction.atomic
def jobs_cancel_queued(*, program_id: int | None = None, artist_id: Any = None, actor: Any = None) -> list[int]:
    """The kill switch's reach into the engine: cancel every queued job of a program (or
    of one artist in it). Running jobs finish; their queued messages find nothing to claim."""
    qs = GenerationJob.objects.select_for_update().filter(status=Status.QUEUED)
    if program_id is not None:
        qs = qs.filter(program_id=program_id)
    if artist_id is not None:
        qs = qs.filter(artist_id=artist_id)
    rows = list(qs.values_list("pk", "artist_id"))
    ids = [pk for pk, _ in rows]
    if ids:
        GenerationJob.objects.filter(pk__in=ids, status=Status.QUEUED).update(
            status=Status.CANCELLED,
            cancel_requested=True,
            finished_at=timezone.now(),
            cancelled_by=actor if getattr(actor, "pk", None) else None,
        )
        jobs_updated.send(sender=GenerationJob, artist_ids={artist for _, artist in rows})
    return ids


# --- workers ------------------------------------------------------------------------------


def worker_register(
    *,
    hostname: str,
    queues: list[str],
    device: str,
    device_name: str,
    memory_bytes: int,
    torch_version: str,
    cuda_version: str,
    pid: int | None,
) -> Worker:
    now = timezone.now()
    worker, _ = Worker.objects.update_or_create(
        hostname=hostname,
        defaults=dict(
            queues=queues,
            device=device,
            device_name=device_name,
            memory_bytes=memory_bytes,
            torch_version=torch_version,
            cuda_version=cuda_version,
            pid=pid,
            status=Worker.Status.ONLINE,
            started_at=now,
            last_heartbeat=now,
        ),
    )
    return worker


def worker_heartbeat(*, hostname: str, media_writable: bool = True, **register_kwargs: Any) -> Worker | None:
    now = timezone.now()
    status = Worker.Status.ONLINE if media_writable else Worker.Status.DEGRADED
    updated = Worker.objects.filter(hostname=hostname).update(last_heartbeat=now, status=status)
    if not updated and register_kwargs:
        return worker_register(hostname=hostname, **register_kwargs)
    return Worker.objects.filter(hostname=hostname).first()


def worker_record_warmup(*, hostname: str, compile_seconds: float | None, note: str) -> None:
    """What the worker's warm-up did (compile time on CUDA, or why it did not compile)."""
    Worker.objects.filter(hostname=hostname).update(compile_seconds=compile_seconds, warmup_note=note[:500])


def worker_go_offline(*, hostname: str) -> None:
    Worker.objects.filter(hostname=hostname).update(status=Worker.Status.OFFLINE, last_heartbeat=timezone.now())


LOST_WORKER_ERROR = (
    "The GPU worker running this generation stopped responding, so it was stopped. "
    "No compute was charged; please try again."
)
RESTARTED_WORKER_ERROR = (
    "The GPU worker running this generation restarted before finishing it. No compute was charged; please try again."
)


def _end_orphans(
    jobs: list[GenerationJob], *, now: dt.datetime, error: str, detail: str
) -> tuple[list[int], list[int]]:
    """Fail (or requeue, within GENERATION_MAX_ATTEMPTS) running jobs nobody runs any more.
    A failed job has no UsageRecord, so it is charged nothing, and leaving the active
    statuses releases its reservation and its concurrency slot."""
    failed: list[int] = []
    requeued: list[int] = []
    max_attempts = int(getattr(settings, "GENERATION_MAX_ATTEMPTS", 2))
    for job in jobs:
        if requeue_lost_jobs() and job.attempts < max_attempts and not job.cancel_requested:
            # Same job, new attempt number on claim: a late result of the old attempt is void.
            job.status = Status.QUEUED
            job.worker = None
            job.progress = 0
            job.enqueued_at = now
            job.started_at = None
            job.last_seen_at = None
            job.celery_task_id = str(uuid.uuid4())
            job.save(
                update_fields=[
                    "status",
                    "worker",
                    "progress",
                    "enqueued_at",
                    "started_at",
                    "last_seen_at",
                    "celery_task_id",
                ]
            )
            _enqueue_on_commit(
                job_id=job.pk, queue=get_profile(job.model_profile, check_dir=False).queue, task_id=job.celery_task_id
            )
            requeued.append(job.pk)
        else:
            job.status = Status.FAILED
            job.finished_at = now
            job.error = error
            job.error_detail = detail
            job.save(update_fields=["status", "finished_at", "error", "error_detail"])
            failed.append(job.pk)
    if failed or requeued:
        jobs_updated.send(sender=GenerationJob, artist_ids={job.artist_id for job in jobs})
    return failed, requeued


@transaction.atomic
def workers_reap_lost(*, now: dt.datetime | None = None) -> dict[str, list[int]]:
    """Mark workers lost after a missed heartbeat window, and end every running job not
    seen for that window — whatever its worker row says: a worker restarted under the same
    name is online again, but the job it was running is not."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=lost_after_seconds())
    lost_ids = list(
        Worker.objects.select_for_update()
        .filter(status__in=[Worker.Status.ONLINE, Worker.Status.DEGRADED], last_heartbeat__lt=cutoff)
        .values_list("pk", flat=True)
    )
    if lost_ids:
        Worker.objects.filter(pk__in=lost_ids).update(status=Worker.Status.LOST)
    # of=("self",): PostgreSQL cannot lock the nullable side of the outer join to workers.
    orphaned = list(
        GenerationJob.objects.select_for_update(of=("self",))
        .filter(status=Status.RUNNING)
        .filter(
            Q(worker_id__in=lost_ids) | Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True, started_at__lt=cutoff)
        )
    )
    failed, requeued = _end_orphans(
        orphaned,
        now=now,
        error=LOST_WORKER_ERROR,
        detail=f"not seen since before {cutoff.isoformat()} (worker lost or job stuck)",
    )
    if failed or requeued or lost_ids:
        log.warning("reaper: lost workers %s, failed jobs %s, requeued jobs %s", lost_ids, failed, requeued)
    return {"lost_workers": lost_ids, "failed_jobs": failed, "requeued_jobs": requeued}


@transaction.atomic
def worker_release_jobs_on_start(*, hostname: str) -> dict[str, list[int]]:
    """A worker process that starts runs nothing yet: jobs still recorded as running under
    its name were left by the process before it (killed, OOM, host reboot). End them now
    instead of waiting for the reaper's window."""
    now = timezone.now()
    stale = list(
        GenerationJob.objects.select_for_update(of=("self",)).filter(status=Status.RUNNING, worker__hostname=hostname)
    )
    failed, requeued = _end_orphans(
        stale, now=now, error=RESTARTED_WORKER_ERROR, detail=f"worker {hostname} restarted while the job was running"
    )
    if failed or requeued:
        log.warning("worker %s restarted: failed jobs %s, requeued jobs %s", hostname, failed, requeued)
    return {"failed_jobs": failed, "requeued_jobs": requeued}
