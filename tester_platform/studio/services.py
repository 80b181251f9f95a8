"""The submit policy: the platform decides who may generate what (enrollment, program
status, consent, the program's quota policy), then hands the engine a budget to enforce."""
from __future__ import annotations

from django.db import transaction

from generation.models import GenerationJob
from generation.services import Budget, build_params, estimate_compute_seconds, job_cancel, job_submit
from tester_platform.audit.services import audit_record
from tester_platform.consent.services import consent_required
from tester_platform.errors import Conflict, InvalidInput, NotAllowed, NotFound
from tester_platform.programs.models import Enrollment, Program

RESOLUTION_ORDER = ["preview", "480p", "720p", "1080p"]


class ProgramPaused(Conflict):
    code = "program_paused"


def _check_program_policy(*, program: Program, resolution, duration_seconds, mode: str) -> None:
    if mode == GenerationJob.Mode.TEXT_TO_VIDEO and resolution in RESOLUTION_ORDER:
        if RESOLUTION_ORDER.index(resolution) > RESOLUTION_ORDER.index(program.max_resolution):
            raise InvalidInput(f"This program allows resolutions up to {program.max_resolution}.", field="resolution")
    if isinstance(duration_seconds, (int, float)) and not isinstance(duration_seconds, bool):
        if duration_seconds > program.max_duration_seconds and duration_seconds <= 10:
            raise InvalidInput(f"This program allows videos up to {program.max_duration_seconds} seconds.",
                               field="duration_seconds")


def _enrollment_allowing_generation(*, artist, program: Program) -> Enrollment:
    enrollment = Enrollment.objects.filter(artist=artist, program=program).first()
    if enrollment is None or enrollment.status in (Enrollment.Status.LEFT,):
        raise NotAllowed("You are not enrolled in this program.", code="not_enrolled")
    if enrollment.status == Enrollment.Status.SUSPENDED:
        raise NotAllowed("Your generation access in this program is suspended. "
                         + (enrollment.suspended_reason or "Staff have been told why."), code="suspended")
    return enrollment


def program_budget(*, program: Program, reserve_seconds: float = 0.0) -> Budget:
    return Budget(max_concurrent_jobs=program.max_concurrent_jobs,
                  daily_compute_seconds=float(program.daily_compute_seconds), reserve_seconds=reserve_seconds)


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
) -> GenerationJob:
    """403 without enrollment or consent, 409 when the program is paused, 400 for bad
    parameters, 429 over quota. Nothing is created or queued unless every check passes."""
    enrollment = _enrollment_allowing_generation(artist=artist, program=program)
    if program.status == Program.Status.PAUSED:
        raise ProgramPaused("This program is paused by its managers; new generations are not accepted right now.")
    if program.status != Program.Status.ACTIVE:
        raise Conflict(f"This program is {program.get_status_display().lower()}; it does not take generations.",
                       code="program_inactive")
    consent = consent_required(artist=artist, program=program)
    source_job = None
    if source_generation is not None:
        source_job = GenerationJob.objects.filter(pk=source_generation, artist=artist, program=program).first()
        if source_job is None:
            raise InvalidInput("That is not one of your generations in this program.", field="source_generation")
    _check_program_policy(program=program, resolution=resolution, duration_seconds=duration_seconds, mode=mode)
    params = build_params(
        mode=mode, prompt=prompt, negative_prompt=negative_prompt, duration_seconds=duration_seconds,
        aspect_ratio=aspect_ratio, resolution=resolution, seed=seed, strength=strength, source_job=source_job,
        profile_key=program.model_profile,
    )
    job = job_submit(
        artist=artist, program_id=program.pk, enrollment_id=enrollment.pk, consent_record_id=consent.pk,
        training_use=consent.training_use, params=params,
        budget=program_budget(program=program, reserve_seconds=estimate_compute_seconds(params)),
        artist_pseudonym=str(artist.public_id), consent_version=consent.document.version, program_ref=program.slug,
    )
    audit_record(action="generation.submitted", actor=artist, subject=artist, program=program, target=job,
                 data={"mode": job.mode, "seed": job.seed, "size": [job.width, job.height], "frames": job.num_frames,
                       "consent_record": consent.pk})
    return job


def generation_for_user(*, user, job_id: int) -> GenerationJob:
    """The job if it is the user's own; reviewers of its program may see it too (with their
    second factor passed); else NotFound."""
    from tester_platform.policy import Act, can

    job = GenerationJob.objects.select_related("usage", "program", "consent_record__document", "artist").filter(
        pk=job_id).first()
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
    audit_record(action="generation.cancel_requested", actor=user, subject=job.artist, program=job.program,
                 target=job, data={"status": job.status})
    return job
