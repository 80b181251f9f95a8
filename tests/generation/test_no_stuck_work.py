"""No stuck or orphaned work, no charge for our faults (issue: job liveness, durable
dispatch, a runner whose error path works, self-checking storage).

Real worker processes on the tiny model; each test says which fault it injects."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from generation import services
from generation.models import GenerationJob, UsageRecord, Worker
from generation.selectors import quota_left
from generation.services import RESTARTED_WORKER_ERROR, Budget
from tests.generation.conftest import GPU_QUEUE, make_tester, submit, wait_for_status
from tests.worker import WorkerProcess, wait_until

BUDGET = dict(max_concurrent_jobs=1, daily_compute_seconds=100, reserve_seconds=60)


def _quota(t):
    return quota_left(artist=t.artist, program_id=t.program.pk, budget=Budget(**BUDGET))


def _media_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and "_probe" not in p.parts]


# --- liveness: a job nobody runs is ended, whatever its worker row says -------------------


@pytest.mark.django_db
def test_a_running_job_not_seen_is_reaped_even_when_its_worker_row_is_online(tester):
    worker = services.worker_register(
        hostname="gpu0@host",
        queues=[GPU_QUEUE],
        device="cpu",
        device_name="cpu",
        memory_bytes=0,
        torch_version="",
        cuda_version="",
        pid=1,
    )
    job = submit(tester, budget=BUDGET)
    assert services.job_claim(job_id=job.pk, worker=worker) is not None
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    GenerationJob.objects.filter(pk=job.pk).update(last_seen_at=long_ago)
    services.worker_heartbeat(hostname="gpu0@host")  # the row says online and fresh
    result = services.workers_reap_lost()
    assert result["failed_jobs"] == [job.pk] and result["lost_workers"] == []
    job.refresh_from_db()
    assert job.status == "failed" and not UsageRecord.objects.filter(job=job).exists()
    assert _quota(tester)["concurrent_jobs_left"] == 1 and _quota(tester)["compute_seconds_left_today"] == 100


@pytest.mark.django_db
def test_a_job_whose_heartbeat_vouches_for_it_is_not_reaped(tester):
    worker = services.worker_register(
        hostname="gpu1@host",
        queues=[GPU_QUEUE],
        device="cpu",
        device_name="cpu",
        memory_bytes=0,
        torch_version="",
        cuda_version="",
        pid=1,
    )
    job = submit(tester, budget=BUDGET)
    services.job_claim(job_id=job.pk, worker=worker)
    GenerationJob.objects.filter(pk=job.pk).update(
        started_at=timezone.now() - dt.timedelta(minutes=5), last_seen_at=timezone.now() - dt.timedelta(minutes=5)
    )
    services.jobs_touch(job_ids=[job.pk])  # a long VAE decode: no progress tick, but the heartbeat
    assert services.workers_reap_lost()["failed_jobs"] == []
    assert GenerationJob.objects.get(pk=job.pk).status == "running"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_job_and_restarted_under_the_same_name_ends_the_job_at_once(tiny_model_dir):
    """The audit's fault: `-n gpu0@%h` as deploy.md says; the restarted worker used to flip
    its row online and leave the job running forever, holding the slot and the compute."""
    name = f"gpu-fixed-{os.getpid()}@testhost"
    worker = WorkerProcess(queues=GPU_QUEUE, hostname=name).wait_ready(timeout=90)
    t = make_tester()
    try:
        job = submit(t, budget=BUDGET, duration_seconds=7, aspect_ratio="1:1", steps=100)
        wait_until(
            lambda: GenerationJob.objects.filter(pk=job.pk, status="running", progress__gt=0).exists(),
            timeout=60,
            interval=0.02,
            message="job running",
        )
        worker.kill()
    finally:
        worker.stop()
    assert _quota(t)["concurrent_jobs_left"] == 0
    restarted = WorkerProcess(queues=GPU_QUEUE, hostname=name).wait_ready(timeout=90)
    try:
        job = wait_for_status(job, {"failed", "succeeded", "cancelled"}, timeout=10)
        assert job.status == "failed" and job.error == RESTARTED_WORKER_ERROR
        assert not UsageRecord.objects.filter(job=job).exists()
        assert _quota(t)["concurrent_jobs_left"] == 1 and _quota(t)["compute_seconds_left_today"] == 100
        # the same worker serves the artist's next job
        nxt = wait_for_status(submit(t, budget=BUDGET, duration_seconds=1), {"succeeded", "failed"})
        assert nxt.status == "succeeded"
    finally:
        restarted.stop()


# --- a dropped database connection ------------------------------------------------------


@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_terminated_database_connection_mid_job_leaves_nothing_stuck_or_overcharged(tiny_model_dir):
    # pg_terminate_backend: the postgres marker skips this on SQLite (tests/conftest.py).
    worker = WorkerProcess(queues=GPU_QUEUE, name="gpu-dbkill").wait_ready(timeout=90)
    t = make_tester()
    try:
        job = submit(t, budget=BUDGET, duration_seconds=5, aspect_ratio="1:1", steps=60)
        wait_until(
            lambda: GenerationJob.objects.filter(pk=job.pk, status="running", progress__gt=0).exists(),
            timeout=60,
            interval=0.02,
            message="job running",
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        job = wait_for_status(job, {"failed", "succeeded", "cancelled"}, timeout=60)
        # The runner closes the broken connection and retries its state change: the job
        # ends (usually it finishes), and it is charged only if it delivered a video.
        records = UsageRecord.objects.filter(job=job).count()
        assert (job.status, records) in {("succeeded", 1), ("failed", 0)}
        if job.status == "succeeded":
            assert job.video.name
        assert _quota(t)["concurrent_jobs_left"] == 1
        assert worker.proc.poll() is None, "the worker must survive"
    finally:
        worker.stop()


# --- storage faults are ours: no charge, no files, no claims -----------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_media_not_writable_stops_the_worker_claiming_and_work_resumes_once_it_is(tiny_model_dir, tmp_path):
    media = tmp_path / "media"
    media.write_text("a file where the media folder should be: every write fails (root ignores chmod)")
    worker = WorkerProcess(
        queues=GPU_QUEUE,
        name="gpu-nomedia",
        extra_env={"MEDIA_ROOT": str(media), "GENERATION_HEARTBEAT_SECONDS": "0.3"},
    ).wait_ready(timeout=90)
    t = make_tester()
    try:
        wait_until(
            lambda: Worker.objects.filter(hostname__startswith="gpu-nomedia", status="degraded").exists(),
            timeout=20,
            message="the worker to report its media",
        )
        job = submit(t, budget=BUDGET, duration_seconds=1)
        wait_until(lambda: "handed back" in worker.log(), timeout=30, message="the delivery to be handed back")
        job.refresh_from_db()
        assert job.status == "queued" and job.attempts == 0 and job.dispatched_at is None
        assert not UsageRecord.objects.exists()
        assert worker.proc.poll() is None
        from django.core.files.storage import FileSystemStorage
        from django.test import Client, override_settings

        with override_settings(MEDIA_ROOT=str(media)):  # the web host sees the same media
            import generation.storage as gen_storage

            real = gen_storage.default_storage
            gen_storage.default_storage = FileSystemStorage(location=str(media))
            try:
                health = Client().get("/healthz")
            finally:
                gen_storage.default_storage = real
        assert health.status_code == 503 and health.json()["checks"]["media"] == "failing"
        # media comes back: the heartbeat sees it, the sweep sends the job again, it runs
        media.unlink()
        media.mkdir()
        wait_until(
            lambda: Worker.objects.filter(hostname__startswith="gpu-nomedia", status="online").exists(),
            timeout=20,
            message="the worker to be healthy again",
        )
        job.__class__.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=1))
        assert services.jobs_redispatch() == [job.pk]
        job = wait_for_status(job, {"succeeded", "failed"})
        assert job.status == "succeeded" and UsageRecord.objects.filter(job=job).count() == 1
    finally:
        worker.stop()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_store_that_fails_mid_job_is_not_charged_and_leaves_no_files(tiny_model_dir, tmp_path):
    """Media fills up between the pre-claim check and the write: the job fails on our side,
    uncharged, and the half-written files are deleted."""
    media = tmp_path / "media"
    media.mkdir()
    worker = WorkerProcess(
        queues=GPU_QUEUE,
        name="gpu-fullmedia",
        extra_env={"MEDIA_ROOT": str(media), "ATELIER_TEST_MEDIA_FAULT": "fills_mid_job"},
    ).wait_ready(timeout=90)
    t = make_tester()
    try:
        job = wait_for_status(submit(t, budget=BUDGET, duration_seconds=1), {"succeeded", "failed"})
        assert job.status == "failed" and "Nothing was charged" in job.error
        assert not UsageRecord.objects.filter(job=job).exists()
        assert _quota(t)["compute_seconds_left_today"] == 100 and _quota(t)["concurrent_jobs_left"] == 1
        # The failure is committed first, then the files it left are deleted (runner._fail).
        wait_until(lambda: _media_files(media) == [], timeout=30, message="the failed job's files to be deleted")
        assert worker.proc.poll() is None
    finally:
        worker.stop()


# --- durable dispatch ----------------------------------------------------------------------


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_submission_while_the_broker_refuses_answers_queued_and_runs_once_it_is_back(
    tiny_model_dir, gpu_worker, monkeypatch
):
    """Publishing goes through a real connection to a port that refuses (what a broker that
    is down answers); the app's own pools are left alone for the tests after this one."""
    from generation.tasks import run_job
    from tester_platform.celery import app

    real_apply_async = run_job.apply_async
    refusing = app.connection_for_write(url=f"redis://127.0.0.1:{_closed_port()}/0")
    monkeypatch.setattr(run_job, "apply_async", lambda *a, **kw: real_apply_async(*a, connection=refusing, **kw))
    t = make_tester()
    started = time.monotonic()
    job = submit(t, budget=BUDGET, duration_seconds=1)
    took = time.monotonic() - started
    monkeypatch.undo()  # the broker is back
    refusing.release()
    assert took < 5, f"the publish against a refusing broker took {took:.1f}s"
    job.refresh_from_db()
    assert job.status == "queued" and job.dispatched_at is None
    # Before its grace the sweep leaves it (its first publish may still be on the way) …
    assert services.jobs_redispatch() == []
    # … after it, the sweep publishes it and the worker runs it.
    GenerationJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=1))
    assert services.jobs_redispatch() == [job.pk]
    job = wait_for_status(job, {"succeeded", "failed"})
    assert job.status == "succeeded" and UsageRecord.objects.filter(job=job).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_201_queued_within_seconds_while_the_broker_refuses(tiny_model_dir, monkeypatch):
    """The HTTP side of the same fault, as an artist's client sees it: no 500, no hang; the
    job is stored as queued, waiting for the dispatch sweep."""
    from rest_framework.test import APIClient

    from generation.tasks import run_job
    from tester_platform.celery import app

    real_apply_async = run_job.apply_async
    refusing = app.connection_for_write(url=f"redis://127.0.0.1:{_closed_port()}/0")
    monkeypatch.setattr(run_job, "apply_async", lambda *a, **kw: real_apply_async(*a, connection=refusing, **kw))
    t = make_tester()
    client = APIClient()
    client.force_authenticate(t.artist)
    started = time.monotonic()
    response = client.post(
        "/api/v1/generations/",
        {"program": t.program.pk, "mode": "text_to_video", "prompt": "a lighthouse at dusk", "duration_seconds": 1},
        format="json",
    )
    took = time.monotonic() - started
    refusing.release()
    assert response.status_code == 201 and response.json()["status"] == "queued", response.content
    assert took < 5, f"answered after {took:.1f}s"
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert job.status == "queued" and job.dispatched_at is None
