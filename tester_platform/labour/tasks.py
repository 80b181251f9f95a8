from __future__ import annotations

from celery import shared_task


@shared_task(name="labour.pay_floor_run", ignore_result=True)
def pay_floor_run_task(week: str | None = None, program_id: int | None = None) -> int:
    """Weekly: top up last week's effective hourly rates to each program's floor. Safe to
    retry or run twice (one assessment per artist, program and week)."""
    from tester_platform.labour.services import pay_floor_run

    return len(pay_floor_run(week=week, program_id=program_id))
