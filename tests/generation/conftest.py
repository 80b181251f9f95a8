"""Fixtures for the engine's tests: the tiny checkpoint, a signed-up artist, and a real
worker process on the tiny model's queue (module-scoped: starting one costs seconds)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Short windows so the crash/reap tests run in seconds. Set before any worker starts:
# worker processes inherit this environment.
os.environ.setdefault("GENERATION_HEARTBEAT_SECONDS", "0.5")
os.environ.setdefault("GENERATION_LOST_AFTER_SECONDS", "3")
os.environ.setdefault("GENERATION_PROGRESS_INTERVAL_SECONDS", "0.1")
BROKEN_MODEL_DIR = Path(os.environ["ATELIER_TEST_RUN_DIR"]) / "models" / "wan-broken"
os.environ.setdefault(
    "GENERATION_MODEL_PROFILES_JSON",
    json.dumps({"wan-broken": {"extends": "wan-tiny", "model_dir": str(BROKEN_MODEL_DIR), "queue": "gpu.wan-tiny"}}),
)

from tests.factories import ConsentDocumentFactory, ProgramFactory, enroll, make_artist, sign  # noqa: E402
from tests.worker import WorkerProcess, wait_until  # noqa: E402

GPU_QUEUE = "gpu.wan-tiny"
BIG_BUDGET = dict(max_concurrent_jobs=10, daily_compute_seconds=100_000.0, reserve_seconds=5.0)


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from generation.conf import get_profile
    from generation.tiny_model import build_tiny_wan, build_tiny_wan_i2v

    profile = get_profile("wan-tiny", check_dir=False)
    target = Path(profile.model_dir)
    build_tiny_wan(target)
    build_tiny_wan_i2v(Path(profile.image_model_dir))
    # A "checkpoint" whose weights are garbage: loading it must fail the job, not the worker.
    BROKEN_MODEL_DIR.mkdir(parents=True, exist_ok=True)
    (BROKEN_MODEL_DIR / "model_index.json").write_text("{ this is not json")
    return target


@dataclass
class Tester:
    artist: Any
    program: Any
    enrollment: Any
    consent: Any


def make_tester(program=None, *, email: str | None = None, training_use: bool = False) -> Tester:
    if program is None:
        program = ProgramFactory()
        ConsentDocumentFactory(program=program, version=1)
    artist = make_artist(**({"email": email} if email else {}))
    enrollment = enroll(artist, program)
    record = sign(artist, program, training_use=training_use)
    return Tester(artist, program, enrollment, record)


@pytest.fixture
def tester(db) -> Tester:
    return make_tester()


def submit(t: Tester, *, budget: dict | None = None, **params):
    from generation.services import Budget, build_params, job_submit

    params.setdefault("mode", "text_to_video")
    params.setdefault("prompt", "a lighthouse at dusk, waves")
    if params["mode"] == "text_to_video":
        params.setdefault("duration_seconds", 2)
        params.setdefault("aspect_ratio", "16:9")
        params.setdefault("resolution", "preview")
    params.setdefault("seed", 1234)
    return job_submit(
        artist=t.artist,
        program_id=t.program.pk,
        enrollment_id=t.enrollment.pk,
        consent_record_id=t.consent.pk,
        training_use=t.consent.training_use,
        params=build_params(**params),
        budget=Budget(**(budget or BIG_BUDGET)),
        consent_version=1,
        program_ref=f"program-{t.program.pk}",
    )


def wait_for_status(job, statuses, *, timeout: float = 90):
    from generation.models import GenerationJob

    statuses = {statuses} if isinstance(statuses, str) else set(statuses)

    def check():
        current = GenerationJob.objects.get(pk=job.pk)
        return current if current.status in statuses else None

    return wait_until(check, timeout=timeout, interval=0.05, message=f"job {job.pk} to reach {statuses}")


@pytest.fixture(scope="module")
def gpu_worker(django_db_setup, django_db_blocker, tiny_model_dir):
    with django_db_blocker.unblock():
        worker = WorkerProcess(queues=GPU_QUEUE, name="gpu").wait_ready(timeout=90)
    yield worker
    worker.stop()
