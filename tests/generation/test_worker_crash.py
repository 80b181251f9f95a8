"""SIGKILL of a worker mid-job: the reaper fails the job within the lost-worker window,
the budget is released and no UsageRecord is duplicated (or written for the dead run)."""

import time

import pytest

from generation.conf import lost_after_seconds
from generation.models import GenerationJob, UsageRecord, Worker
from generation.selectors import quota_left
from generation.services import LOST_WORKER_ERROR, Budget
from generation.tasks import reap_lost_workers
from tests.generation.conftest import GPU_QUEUE, make_tester, submit, wait_for_status
from tests.worker import WorkerProcess, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_sigkill_mid_job_is_reaped_and_the_quota_released(tiny_model_dir):
    budget = dict(max_concurrent_jobs=1, daily_compute_seconds=100, reserve_seconds=60)
    worker = WorkerProcess(queues=GPU_QUEUE, name="gpu-doomed").wait_ready(timeout=90)
    try:
        t = make_tester()
        job = submit(t, budget=budget, duration_seconds=7, aspect_ratio="1:1", steps=100)
        wait_until(
            lambda: GenerationJob.objects.filter(pk=job.pk, status="running", progress__gt=0).exists(),
            timeout=60,
            interval=0.02,
            message="job running",
        )
        worker.kill()
    finally:
        worker.stop()
    killed_at = time.monotonic()
    left = quota_left(artist=t.artist, program_id=t.program.pk, budget=Budget(**budget))
    assert left["concurrent_jobs_left"] == 0 and left["compute_seconds_left_today"] == 40

    # the beat task, run here; nothing is lost before the window has passed
    assert reap_lost_workers()["failed_jobs"] == []
    wait_until(
        lambda: reap_lost_workers()["failed_jobs"],
        timeout=lost_after_seconds() + 5,
        interval=0.25,
        message="the reaper to fail the job",
    )
    assert time.monotonic() - killed_at <= lost_after_seconds() + 5
    job.refresh_from_db()
    assert job.status == "failed" and job.error == LOST_WORKER_ERROR
    assert Worker.objects.get(pk=job.worker_id).status == "lost"
    assert UsageRecord.objects.filter(job=job).count() == 0
    left = quota_left(artist=t.artist, program_id=t.program.pk, budget=Budget(**budget))
    assert left["concurrent_jobs_left"] == 1 and left["compute_seconds_left_today"] == 100

    # a fresh worker serves the artist's next job; the dead one's job stays failed, one record per job
    replacement = WorkerProcess(queues=GPU_QUEUE, name="gpu-replacement").wait_ready(timeout=90)
    try:
        nxt = wait_for_status(submit(t, budget=budget, duration_seconds=1), {"succeeded", "failed"})
        assert nxt.status == "succeeded"
    finally:
        replacement.stop()
    assert GenerationJob.objects.get(pk=job.pk).status == "failed"
    assert UsageRecord.objects.filter(job=job).count() == 0 and UsageRecord.objects.filter(job=nxt).count() == 1
