"""Periodic tasks of notifications, for settings.py to merge into CELERY_BEAT_SCHEDULE.

Importable from settings.py: no Django imports here."""

from __future__ import annotations


def beat_schedule() -> dict[str, dict]:
    return {
        # Emails whose first publish failed (broker down) or whose worker died mid-send.
        "notifications-resend-pending": {
            "task": "tester_platform.notifications.tasks.resend_pending_notification_emails",
            "schedule": 60.0,
        },
    }
