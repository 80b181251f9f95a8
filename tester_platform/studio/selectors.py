from __future__ import annotations

from generation.selectors import quota_left
from tester_platform.studio.services import program_budget


def quota_for(*, artist, program) -> dict:
    quota = quota_left(artist=artist, program_id=program.pk, budget=program_budget(program=program))
    return {"program": program.pk, "program_name": program.name, "max_resolution": program.max_resolution,
            "max_duration_seconds": program.max_duration_seconds, **quota}
