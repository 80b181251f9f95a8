"""Periodic tasks of the engine, for the platform to merge into CELERY_BEAT_SCHEDULE.

Importable from settings.py: no Django imports here."""

from __future__ import annotations

import os
from typing import Any

REAP_INTERVAL_SECONDS = float(os.environ.get("GENERATION_REAP_INTERVAL_SECONDS") or 15)

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "generation-reap-lost-workers": {
        "task": "generation.reap_lost_workers",
        "schedule": REAP_INTERVAL_SECONDS,
        "options": {"expires": REAP_INTERVAL_SECONDS},
    },
    # Queued jobs whose message never reached the broker (or was handed back) are sent again.
    "generation-redispatch-queued": {
        "task": "generation.redispatch_queued",
        "schedule": REAP_INTERVAL_SECONDS,
        "options": {"expires": REAP_INTERVAL_SECONDS},
    },
}


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {name: dict(entry) for name, entry in BEAT_SCHEDULE.items()}
