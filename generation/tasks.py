"""Celery tasks of the engine: thin wrappers around services (they take ids)."""

from __future__ import annotations

from celery import shared_task

from generation import workers  # noqa: F401  (connects the worker lifecycle signals)


@shared_task(name="generation.run_job", bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(self, job_id: int) -> str:
    from generation.runner import execute_job

    return execute_job(job_id=job_id, hostname=self.request.hostname)


@shared_task(name="generation.redispatch_queued", ignore_result=True)
def redispatch_queued() -> list[int]:
    from generation.services import jobs_redispatch

    return jobs_redispatch()


@shared_task(name="generation.reap_lost_workers", ignore_result=True)
def reap_lost_workers() -> dict:
    from generation.services import workers_reap_lost

    return workers_reap_lost()
