"""Periodic tasks of labour, for settings.py to merge into CELERY_BEAT_SCHEDULE.

Importable from settings.py: no Django imports here."""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    # Monday 03:15 UTC: last ISO week is closed; assess it (idempotent per artist, program
    # and week, so a missed or repeated run is harmless).
    "labour-pay-floor-weekly": {
        "task": "labour.pay_floor_run",
        "schedule": crontab(minute=15, hour=3, day_of_week="mon"),
        "options": {"expires": 6 * 3600},
    },
}


def beat_schedule() -> dict[str, dict]:
    return {name: dict(entry) for name, entry in BEAT_SCHEDULE.items()}
