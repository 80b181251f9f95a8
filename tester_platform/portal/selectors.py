from __future__ import annotations

from tester_platform.programs.models import Enrollment
from tester_platform.studio.selectors import quota_for


def quota_summaries(*, artist, enrollments: list[Enrollment]) -> list[dict]:
    """What each program lets the artist generate today and how much is left (metered by
    the generation engine: reservations of running jobs plus compute of finished ones)."""
    return [quota_for(artist=artist, program=enrollment.program) for enrollment in enrollments]
