from __future__ import annotations

from generation.conf import get_profile
from generation.errors import GenerationError, ModelProfileError
from generation.presets import ASPECT_RATIOS, MIN_DURATION_SECONDS, RESOLUTIONS, frame_size
from generation.selectors import quota_left
from tester_platform.studio.services import RESOLUTION_ORDER, program_budget


def quota_for(*, artist, program) -> dict:
    quota = quota_left(artist=artist, program_id=program.pk, budget=program_budget(program=program))
    return {
        "program": program.pk,
        "program_name": program.name,
        "max_resolution": program.max_resolution,
        "max_duration_seconds": program.max_duration_seconds,
        **quota,
    }


def studio_options(*, program) -> dict:
    """What the studio form may offer for this program: each resolution with whether it is
    allowed and, if not, why (the program's cap or the model's limits), the longest
    duration, and the model's honest label. The submit service checks the same again."""
    try:
        profile = get_profile(program.model_profile, check_dir=False)
    except ModelProfileError:
        profile = None
    label = (profile.label or profile.key) if profile else program.model_profile
    resolutions = []
    for resolution in RESOLUTIONS:
        reason = ""
        if profile is None:
            reason = "the program's model is not configured here"
        elif RESOLUTION_ORDER.index(resolution) > RESOLUTION_ORDER.index(program.max_resolution):
            reason = f"this program allows up to {program.max_resolution}"
        else:
            try:
                sizes = {ratio: frame_size(ratio, resolution, profile=profile) for ratio in ASPECT_RATIOS}
            except GenerationError:
                sizes = {}
                reason = f"the model {label} makes at most {profile.max_width}×{profile.max_height} px"
        resolutions.append(
            {
                "value": resolution,
                "allowed": not reason,
                "reason": reason,
                "sizes": {r: f"{w}×{h}" for r, (w, h) in sizes.items()} if not reason else {},
            }
        )
    longest = program.max_duration_seconds
    if profile is not None:
        longest = min(longest, int(getattr(profile, "max_total_seconds", longest)))
    return {
        "program": program.pk,
        "model": label,
        "random_weights": bool(profile and profile.random_weights),
        "resolutions": resolutions,
        "min_duration_seconds": MIN_DURATION_SECONDS,
        "max_duration_seconds": max(MIN_DURATION_SECONDS, longest),
        "image_to_video": bool(profile and "image_to_video" in profile.pipelines),
    }


def generation_readiness(*, artist, program=None) -> list[dict]:
    """For each program the artist is enrolled in (or just ``program``): can they generate
    now, and if not, why — said before they fill in a form the service would refuse."""
    from tester_platform.audit.models import AuditEvent
    from tester_platform.consent.models import ConsentRecord
    from tester_platform.consent.services import active_consent, latest_record
    from tester_platform.programs.models import Enrollment, Program

    enrollments = Enrollment.objects.filter(
        artist=artist, status__in=[Enrollment.Status.ACTIVE, Enrollment.Status.SUSPENDED]
    ).select_related("program")
    if program is not None:
        enrollments = enrollments.filter(program=program)
    rows = []
    for enrollment in enrollments.order_by("program__name"):
        p = enrollment.program
        state, reason, action = "ready", "", None
        if enrollment.status == Enrollment.Status.SUSPENDED:
            state = "suspended"
            reason = (
                f"Your generation access in {p.name} is suspended: "
                f"{enrollment.suspended_reason or 'staff have not given a reason yet'}"
            )
        elif p.status == Program.Status.PAUSED:
            state = "paused"
            event = AuditEvent.objects.filter(program=p, action="program.paused").order_by("-id").first()
            why = ((event.data or {}).get("reason") or "").strip() if event else ""
            reason = f"{p.name} is paused by its managers; new generations are not accepted right now." + (
                f" Reason: {why}" if why else ""
            )
        elif p.status != Program.Status.ACTIVE:
            state = "inactive"
            reason = f"{p.name} is {p.get_status_display().lower()}; it does not take generations."
        elif active_consent(artist=artist, program=p) is None:
            latest = latest_record(artist=artist, program=p)
            state = "consent"
            action = ("portal:consent", p.slug)
            if latest is not None and latest.kind == ConsentRecord.Kind.WITHDRAW:
                reason = f"You withdrew your consent for {p.name}; sign it again to generate."
            elif latest is not None:
                reason = f"{p.name}'s consent agreement has a new version; read and sign it to keep generating."
            else:
                reason = f"Sign {p.name}'s consent agreement before generating."
        rows.append({"program": p, "state": state, "ready": state == "ready", "reason": reason, "action": action})
    return rows
