"""Fault drill: inject the faults an outside fault-injection run found, against real worker
processes on the tiny model, and print fault × outcome × seconds to recovery × data lost.
Not run by `make test` (the tests in tests/generation/test_no_stuck_work.py assert the same
outcomes); this prints the figures for an operator.

    .venv/bin/python bench/fault_drill.py            # SQLite + filesystem broker
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/fault_drill.py        # adds the database-connection fault

It works in its own temporary folder (database, broker, media) and its own database on
PostgreSQL (created and dropped). "Data lost" counts what a fault must never cost: jobs left
stuck active, failed jobs that were charged, files left behind, messages never run."""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RUN_DIR = tempfile.mkdtemp(prefix="atelier-drill-")
os.environ["ATELIER_TEST_RUN_DIR"] = RUN_DIR
os.environ["ATELIER_VAR_DIR"] = RUN_DIR
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("GENERATION_HEARTBEAT_SECONDS", "0.5")
os.environ.setdefault("GENERATION_LOST_AFTER_SECONDS", "3")
os.environ.setdefault("GENERATION_PROGRESS_INTERVAL_SECONDS", "0.1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
_PG_DB = None
if os.environ.get("DATABASE_URL", "").startswith("postgres"):
    import psycopg

    _PG_DB = f"atelier_drill_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{_PG_DB}"')
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{base}/{_PG_DB}"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from generation import services  # noqa: E402
from generation.models import GenerationJob, UsageRecord, Worker  # noqa: E402
from tests.worker import WorkerProcess, wait_until  # noqa: E402

QUEUE = "gpu.wan-tiny"
BUDGET = dict(max_concurrent_jobs=1, daily_compute_seconds=1000, reserve_seconds=60)
ROWS: list[tuple[str, str, str, str]] = []


def tester():
    from tests.generation.conftest import make_tester

    return make_tester()


def submit(t, **params):
    from tests.generation.conftest import submit as engine_submit

    return engine_submit(t, budget=BUDGET, **params)


def terminal(job, timeout=60.0):
    def done():
        current = GenerationJob.objects.get(pk=job.pk)
        return current if current.status in ("succeeded", "failed", "cancelled") else None

    return wait_until(done, timeout=timeout, interval=0.05, message=f"job {job.pk} to end")


def lost(*jobs) -> str:
    """What the fault cost: stuck jobs, charged failures, orphaned files."""
    problems = []
    for job in jobs:
        job.refresh_from_db()
        if job.status in GenerationJob.ACTIVE_STATUSES:
            problems.append(f"job {job.pk} stuck {job.status}")
        if job.status == "failed" and UsageRecord.objects.filter(job=job).exists():
            problems.append(f"job {job.pk} failed but charged")
        if job.status == "succeeded" and UsageRecord.objects.filter(job=job).count() != 1:
            problems.append(f"job {job.pk} charged {UsageRecord.objects.filter(job=job).count()}x")
    return "; ".join(problems) or "none"


def running(job):
    wait_until(
        lambda: GenerationJob.objects.filter(pk=job.pk, status="running", progress__gt=0).exists(),
        timeout=60,
        interval=0.02,
        message="job running",
    )


def drill_restart_same_name():
    name = f"drill-gpu0-{os.getpid()}@host"
    worker = WorkerProcess(queues=QUEUE, hostname=name).wait_ready(timeout=90)
    t = tester()
    job = submit(t, duration_seconds=7, aspect_ratio="1:1", steps=100)
    running(job)
    worker.kill()
    worker.stop()
    killed = time.monotonic()
    restarted = WorkerProcess(queues=QUEUE, hostname=name).wait_ready(timeout=90)
    try:
        job = terminal(job)
        took = time.monotonic() - killed
        nxt = terminal(submit(t, duration_seconds=1))
    finally:
        restarted.stop()
    ROWS.append(
        (
            "worker SIGKILL mid-job, restarted under the same name",
            f"{job.status} ({job.error[:40]}…); next job {nxt.status}",
            f"{took:.1f} (incl. restart)",
            lost(job, nxt),
        )
    )


def drill_worker_gone():
    worker = WorkerProcess(queues=QUEUE, name="drill-doomed").wait_ready(timeout=90)
    t = tester()
    job = submit(t, duration_seconds=7, aspect_ratio="1:1", steps=100)
    running(job)
    worker.kill()
    worker.stop()
    killed = time.monotonic()
    wait_until(
        lambda: services.workers_reap_lost()["failed_jobs"] or GenerationJob.objects.get(pk=job.pk).status != "running",
        timeout=30,
        interval=0.25,
        message="the reaper",
    )
    took = time.monotonic() - killed
    ROWS.append(
        (
            "worker SIGKILL mid-job, never back (reaper)",
            GenerationJob.objects.get(pk=job.pk).status,
            f"{took:.1f}",
            lost(job),
        )
    )


def drill_db_connection(worker):
    if connection.vendor != "postgresql":
        ROWS.append(("worker's DB connection terminated mid-job", "skipped: needs PostgreSQL", "-", "-"))
        return
    t = tester()
    job = submit(t, duration_seconds=5, aspect_ratio="1:1", steps=60)
    running(job)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    hit = time.monotonic()
    job = terminal(job)
    ROWS.append(
        (
            "worker's DB connection terminated mid-job (pg_terminate_backend)",
            job.status,
            f"{time.monotonic() - hit:.1f}",
            lost(job),
        )
    )


def drill_broker_refuses(worker):
    import socket

    from generation.tasks import run_job
    from tester_platform.celery import app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    refusing = app.connection_for_write(url=f"redis://127.0.0.1:{port}/0")
    real = run_job.apply_async
    run_job.apply_async = lambda *a, **kw: real(*a, connection=refusing, **kw)
    t = tester()
    started = time.monotonic()
    try:
        job = submit(t, duration_seconds=1)
    finally:
        del run_job.apply_async
        refusing.release()
    answered = time.monotonic() - started
    back = time.monotonic()
    GenerationJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=1))
    services.jobs_redispatch()  # what beat's sweep does every GENERATION_REAP_INTERVAL_SECONDS
    job = terminal(job)
    ROWS.append(
        (
            "broker refuses connections at submit",
            f"answered queued in {answered:.1f}s; then {job.status}",
            f"{time.monotonic() - back:.1f} after the sweep",
            lost(job),
        )
    )


def drill_media_unwritable():
    media = Path(RUN_DIR) / "media-drill"
    media.write_text("not a folder")
    worker = WorkerProcess(
        queues=QUEUE, name="drill-nomedia", extra_env={"MEDIA_ROOT": str(media), "GENERATION_HEARTBEAT_SECONDS": "0.3"}
    ).wait_ready(timeout=90)
    t = tester()
    try:
        job = submit(t, duration_seconds=1)
        wait_until(lambda: "handed back" in worker.log(), timeout=30, message="hand-back")
        state = (
            f"{GenerationJob.objects.get(pk=job.pk).status}, worker "
            f"{Worker.objects.get(hostname__startswith='drill-nomedia').status}"
        )
        media.unlink()
        media.mkdir()
        back = time.monotonic()
        wait_until(
            lambda: Worker.objects.filter(hostname__startswith="drill-nomedia", status="online").exists(),
            timeout=20,
            message="healthy again",
        )
        GenerationJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=1))
        services.jobs_redispatch()
        job = terminal(job)
    finally:
        worker.stop()
    ROWS.append(
        (
            "media not writable",
            f"{state} while down; then {job.status}",
            f"{time.monotonic() - back:.1f} after media is back",
            lost(job),
        )
    )


def drill_media_fills():
    media = Path(RUN_DIR) / "media-full"
    media.mkdir()
    worker = WorkerProcess(
        queues=QUEUE,
        name="drill-full",
        extra_env={"MEDIA_ROOT": str(media), "ATELIER_TEST_MEDIA_FAULT": "fills_mid_job"},
    ).wait_ready(timeout=90)
    t = tester()
    try:
        started = time.monotonic()
        job = terminal(submit(t, duration_seconds=1))
    finally:
        worker.stop()
    left = [p for p in media.rglob("*") if p.is_file() and "_probe" not in p.parts]
    ROWS.append(
        (
            "media fills up during the write",
            f"{job.status}, uncharged",
            f"{time.monotonic() - started:.1f}",
            lost(job) + (f"; {len(left)} file(s) left" if left else ""),
        )
    )


def drill_payout_kill():
    """The payout kill runs as its test (it needs the local Stripe, connected accounts and a
    real beat); the test asserts nobody is paid twice or skipped, so passing is the figure."""
    import subprocess

    test = "tests/finance/test_resume.py::test_a_run_whose_worker_is_killed_mid_way_is_finished_by_the_periodic_resume"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_TEST_", "ATELIER_VAR_DIR"))}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    took = time.monotonic() - started
    passed = result.returncode == 0
    ROWS.append(
        (
            "payout run: worker SIGKILL mid-run (24 payouts)",
            "finished by the periodic resume" if passed else "FAILED: " + result.stdout[-200:],
            f"{took:.1f} (whole drill incl. set-up)",
            "none (asserted)" if passed else "see test output",
        )
    )


def main() -> None:
    from generation.conf import get_profile
    from generation.tiny_model import build_tiny_wan

    call_command("migrate", verbosity=0)
    build_tiny_wan(Path(get_profile("wan-tiny", check_dir=False).model_dir))
    print(f"database: {connection.vendor}; broker: {os.environ.get('CELERY_BROKER_URL', 'filesystem://')}")
    drill_restart_same_name()
    drill_worker_gone()
    worker = WorkerProcess(queues=QUEUE, name="drill-gpu").wait_ready(timeout=90)
    try:
        drill_db_connection(worker)
        drill_broker_refuses(worker)
    finally:
        worker.stop()
    drill_media_unwritable()
    drill_media_fills()
    drill_payout_kill()
    widths = [
        max(len(r[i]) for r in ROWS + [("fault", "outcome", "seconds to recovery", "data lost")]) for i in range(4)
    ]
    header = ("fault", "outcome", "seconds to recovery", "data lost")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in ROWS:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    try:
        main()
    finally:
        if _PG_DB:
            connection.close()
            with psycopg.connect(os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{_PG_DB}" WITH (FORCE)')
