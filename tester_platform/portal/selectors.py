from __future__ import annotations

from tester_platform.programs.models import Enrollment


def quota_summaries(*, artist, enrollments: list[Enrollment]) -> list[dict]:
    """What each program lets the artist generate today and how much is left."""
    summaries = []
    for enrollment in enrollments:
        program = enrollment.program
        used = 0  # compute metering arrives with the generation engine (studio)
        summaries.append({
            "program": program.pk,
            "daily_compute_seconds": program.daily_compute_seconds,
            "compute_seconds_left_today": max(program.daily_compute_seconds - used, 0),
            "max_concurrent_jobs": program.max_concurrent_jobs,
            "max_resolution": program.max_resolution,
            "max_duration_seconds": program.max_duration_seconds,
        })
    return summaries
