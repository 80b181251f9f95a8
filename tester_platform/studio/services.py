"""The submit policy: the platform decides who may generate what (enrollment, program
status, consent, the program's quota policy), then hands the engine a budget to enforce."""

from __future__ import annotations

from django.db import transaction

from generation.errors import GenerationError
from generation.images import image_discard, image_store
from generation.models import GenerationJob, InputImage
from generation.presets import result_seconds
from generation.services import Budget, Shot, build_params, estimate_compute_seconds, job_cancel, job_submit
from tester_platform.audit.services import audit_record
from tester_platform.consent.services import consent_required
from tester_platform.errors import Conflict, InvalidInput, NotAllowed, NotFound
from tester_platform.programs.models import Enrollment, Program

RESOLUTION_ORDER = ["preview", "480p", "720p", "1080p"]


class ProgramPaused(Conflict):
    code = "program_paused"


def _check_program_policy(*, program: Program, resolution, mode: str) -> None:
    if (
        mode in GenerationJob.ORIGINAL_MODES
        and resolution in RESOLUTION_ORDER
        and RESOLUTION_ORDER.index(resolution) > RESOLUTION_ORDER.index(program.max_resolution)
    ):
        raise InvalidInput(f"This program allows resolutions up to {program.max_resolution}.", field="resolution")


def _check_program_length(*, program: Program, params, mode: str) -> None:
    """The program's length cap applies to the whole result: a long video, a storyboard,
    and the extension of an extension alike, before anything is created or queued."""
    seconds = result_seconds(params.num_frames, params.fps)
    if seconds > program.max_duration_seconds + 1e-9:
        field = "shots" if mode == GenerationJob.Mode.STORYBOARD else "duration_seconds"
        raise InvalidInput(
            f"The result would be {seconds:g} s long; this program allows videos up to "
            f"{program.max_duration_seconds} seconds.",
            field=field,
            code="too_long",
        )


def _own_image(*, artist, program: Program, image_id, field: str):
    if image_id is None:
        return None
    image = (
        InputImage.objects.filter(pk=image_id, artist=artist, program=program).first()
        if isinstance(image_id, int) and not isinstance(image_id, bool)
        else None
    )
    if image is None:
        raise InvalidInput("That is not an image you uploaded in this program.", field=field)
    return image


def _shots(*, artist, program: Program, shots) -> list[Shot] | None:
    if shots is None:
        return None
    if not isinstance(shots, (list, tuple)):
        raise InvalidInput("Shots are a list of {prompt, seconds, image?}.", field="shots")
    out = []
    for shot in shots:
        if not isinstance(shot, dict):
            raise InvalidInput("Each shot has a prompt, its seconds and optionally an image.", field="shots")
        out.append(
            Shot(
                prompt=shot.get("prompt"),
                seconds=shot.get("seconds"),
                image=_own_image(artist=artist, program=program, image_id=shot.get("image"), field="shots"),
            )
        )
    return out


def _enrollment_allowing_generation(*, artist, program: Program) -> Enrollment:
    enrollment = Enrollment.objects.filter(artist=artist, program=program).first()
    if enrollment is None or enrollment.status in (Enrollment.Status.LEFT,):
        raise NotAllowed("You are not enrolled in this program.", code="not_enrolled")
    if enrollment.status == Enrollment.Status.SUSPENDED:
        raise NotAllowed(
            "Your generation access in this program is suspended. "
            + (enrollment.suspended_reason or "Staff have been told why."),
            code="suspended",
        )
    return enrollment


def program_budget(*, program: Program, reserve_seconds: float = 0.0) -> Budget:
    return Budget(
        max_concurrent_jobs=program.max_concurrent_jobs,
        daily_compute_seconds=float(program.daily_compute_seconds),
        reserve_seconds=reserve_seconds,
    )


@transaction.atomic
def generation_submit(
    *,
    artist,
    program: Program,
    mode: str,
    prompt: str,
    negative_prompt: str = "",
    duration_seconds=None,
    aspect_ratio: str | None = "16:9",
    resolution: str | None = "preview",
    seed: int | None = None,
    source_generation: int | None = None,
    strength: float | None = None,
    image: int | None = None,
    shots: list[dict] | None = None,
    preset: str | None = None,
    keep_from_seconds: float | None = None,
    keep_to_seconds: float | None = None,
) -> GenerationJob:
    """403 without enrollment or consent, 409 when the program is paused, 400 for bad
    parameters (the program's length cap on the whole result included), 429 over quota.
    Nothing is created or queued unless every check passes."""
    consent, enrollment = _generation_gate(artist=artist, program=program)
    source_job = None
    if source_generation is not None:
        source_job = GenerationJob.objects.filter(pk=source_generation, artist=artist, program=program).first()
        if source_job is None:
            raise InvalidInput("That is not one of your generations in this program.", field="source_generation")
    _check_program_policy(program=program, resolution=resolution, mode=mode)
    params = build_params(
        mode=mode,
        prompt=prompt,
        negative_prompt=negative_prompt,
        duration_seconds=duration_seconds,
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        seed=seed,
        strength=strength,
        source_job=source_job,
        profile_key=program.model_profile,
        image=_own_image(artist=artist, program=program, image_id=image, field="image"),
        shots=_shots(artist=artist, program=program, shots=shots),
        preset=preset,
        keep_from_seconds=keep_from_seconds,
        keep_to_seconds=keep_to_seconds,
    )
    _check_program_length(program=program, params=params, mode=mode)
    job = job_submit(
        artist=artist,
        program_id=program.pk,
        enrollment_id=enrollment.pk,
        consent_record_id=consent.pk,
        training_use=consent.training_use,
        params=params,
        budget=program_budget(program=program, reserve_seconds=estimate_compute_seconds(params)),
        artist_pseudonym=str(artist.public_id),
        consent_version=consent.document.version,
        program_ref=program.slug,
    )
    audit_record(
        action="generation.submitted",
        actor=artist,
        subject=artist,
        program=program,
        target=job,
        data={
            "mode": job.mode,
            "seed": job.seed,
            "size": [job.width, job.height],
            "frames": job.num_frames,
            "segments": len(job.segments),
            "consent_record": consent.pk,
            **({"images": list(params.image_ids)} if params.image_ids else {}),
        },
    )
    return job


def _generation_gate(*, artist, program: Program):
    """Enrollment, program state and consent: what every generation and every upload for
    one needs. Returns (consent record, enrollment)."""
    enrollment = _enrollment_allowing_generation(artist=artist, program=program)
    if program.status == Program.Status.PAUSED:
        raise ProgramPaused("This program is paused by its managers; new generations are not accepted right now.")
    if program.status != Program.Status.ACTIVE:
        raise Conflict(
            f"This program is {program.get_status_display().lower()}; it does not take generations.",
            code="program_inactive",
        )
    return consent_required(artist=artist, program=program), enrollment


@transaction.atomic
def generation_image_upload(*, artist, program: Program, data: bytes, filename: str, rights_attested: bool):
    """Store a still to start videos from: only for an artist who may generate in the
    program, checked by decoding (engine), EXIF stripped, private. Nothing is stored when
    any check fails."""
    _generation_gate(artist=artist, program=program)
    image = image_store(
        artist=artist, program_id=program.pk, data=data, filename=filename, rights_attested=rights_attested
    )
    audit_record(
        action="generation.image_uploaded",
        actor=artist,
        subject=artist,
        program=program,
        target=image,
        data={
            "sha256": image.sha256,
            "size": [image.width, image.height],
            "format": image.source_format,
            "rights_attested": True,
        },
    )
    return image


def generation_submit_with_uploads(*, artist, program: Program, uploads: dict, rights_attested: bool, **params):
    """The studio's one-form path: store the uploaded stills, then submit; if the
    submission is refused, the stills uploaded for it are deleted again (nothing kept).
    ``uploads`` maps "image" or a shot index to (data, filename)."""
    stored = []
    try:
        with transaction.atomic():
            for key, (data, filename) in uploads.items():
                try:
                    image = generation_image_upload(
                        artist=artist, program=program, data=data, filename=filename, rights_attested=rights_attested
                    )
                except GenerationError as error:
                    field = "image" if key == "image" else f"shot_{key + 1}_image"
                    if error.field == "rights_attested":
                        field = "rights_attested"
                    raise InvalidInput(
                        error.message if key == "image" else f"Shot {key + 1}: {error.message}", field=field
                    ) from None
                stored.append(image)
                if key == "image":
                    params["image"] = image.pk
                else:
                    params["shots"][key]["image"] = image.pk
            return generation_submit(artist=artist, program=program, **params)
    except Exception:
        for image in stored:
            image_discard(image=image)
        raise


def generation_for_user(*, user, job_id: int) -> GenerationJob:
    """The job if it is the user's own; reviewers of its program may see it too (with their
    second factor passed); else NotFound."""
    from tester_platform.policy import Act, can

    job = (
        GenerationJob.objects.select_related("usage", "program", "consent_record__document", "artist", "input_image")
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        raise NotFound("No such generation.")
    if job.artist_id == user.pk or can(user, Act.REVIEW, program=job.program_id):
        return job
    raise NotFound("No such generation.")


@transaction.atomic
def generation_cancel(*, user, job: GenerationJob) -> GenerationJob:
    if job.artist_id != user.pk:
        raise NotFound("No such generation.")
    job = job_cancel(job=job, actor=user)
    audit_record(
        action="generation.cancel_requested",
        actor=user,
        subject=job.artist,
        program=job.program,
        target=job,
        data={"status": job.status},
    )
    return job
