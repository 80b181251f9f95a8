"""Celery tasks of the engine: thin wrappers around services (they take ids)."""

from __future__ import annotations

from celery import Task, shared_task

from generation import workers  # noqa: F401  (connects the worker lifecycle signals)


# celery ships no type stubs (it is imported as Any), so its decorator is untyped: the
# tasks are Celery Task objects at run time, called through apply_async by the services.
@shared_task(  # type: ignore[untyped-decorator]  # celery is untyped
    name="generation.run_job", bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def run_job(self: Task, job_id: int) -> str:
    from generation.runner import execute_job

    return execute_job(job_id=job_id, hostname=self.request.hostname)


@shared_task(name="generation.redispatch_queued", ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def redispatch_queued() -> list[int]:
    from generation.services import jobs_redispatch

    return jobs_redispatch()


@shared_task(name="generation.reap_lost_workers", ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def reap_lost_workers() -> dict[str, list[int]]:
    from generation.services import workers_reap_lost

    return workers_reap_lost()
