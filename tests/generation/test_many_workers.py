"""Two worker processes on one queue take 100 jobs: every job runs exactly once and the
usage adds up (in CI this runs over Redis with PostgreSQL too)."""

import pytest
from django.db.models import Count, F, Sum

from generation.models import GenerationJob, UsageRecord, Worker
from tests.generation.conftest import GPU_QUEUE, make_tester, submit
from tests.worker import WorkerProcess, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

JOBS = 100


def test_two_workers_share_a_hundred_jobs_and_each_runs_once(tiny_model_dir):
    tester = make_tester()
    budget = dict(max_concurrent_jobs=JOBS, daily_compute_seconds=1e9, reserve_seconds=1.0)
    workers = [WorkerProcess(queues=GPU_QUEUE, name=f"many-{n}", extra_env={"OMP_NUM_THREADS": "1"}) for n in range(2)]
    try:
        for worker in workers:
            worker.wait_ready(timeout=90)
        jobs = [
            submit(tester, budget=budget, duration_seconds=1, aspect_ratio="1:1", seed=n, steps=1) for n in range(JOBS)
        ]
        wait_until(
            lambda: not GenerationJob.objects.filter(status__in=["queued", "running"]).exists(),
            timeout=400,
            interval=0.5,
            message="all jobs to finish",
        )
    finally:
        for worker in workers:
            worker.stop()
    ids = [j.pk for j in jobs]
    assert GenerationJob.objects.filter(pk__in=ids, status="succeeded").count() == JOBS
    assert set(GenerationJob.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
    assert UsageRecord.objects.filter(job_id__in=ids).count() == JOBS
    records = UsageRecord.objects.filter(job_id__in=ids)
    per_worker = dict(records.values("worker__hostname").annotate(n=Count("id")).values_list("worker__hostname", "n"))
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker.values()), per_worker
    assert sum(per_worker.values()) == JOBS
    assert sum(Worker.objects.filter(hostname__in=per_worker).values_list("jobs_done", flat=True)) == JOBS
    # Each job's usage is charged to the worker that ran it, and the per-worker sums add up.
    assert not records.exclude(worker_id=F("job__worker_id")).exists()
    total = records.aggregate(s=Sum("compute_seconds"))["s"]
    by_worker = records.values("worker_id").annotate(s=Sum("compute_seconds"))
    assert sum(row["s"] for row in by_worker) == pytest.approx(total)
    assert 0 < total <= records.aggregate(s=Sum("wall_seconds"))["s"]
