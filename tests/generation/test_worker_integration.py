"""End to end with a real Celery worker process over the test broker (never eager)."""

import numpy as np
import pytest
from django.core.files.storage import default_storage

from generation import media
from generation.models import GenerationJob, UsageRecord, Worker
from generation.provenance import CONSENT_LABEL, TRAINING_LABEL, read_manifest
from generation.runner import MODEL_UNAVAILABLE
from generation.services import job_cancel
from tests.generation.conftest import make_tester, submit, wait_for_status
from tests.worker import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as fh:
        return fh.read()


def _check_output(job: GenerationJob) -> bytes:
    data = _read(job.video.name)
    assert job.video.name.startswith("generations/")
    info = media.probe(data)
    assert (info["width"], info["height"], info["frames"], info["codec"]) == (
        job.width,
        job.height,
        job.num_frames,
        "h264",
    )
    usage = UsageRecord.objects.get(job=job)
    assert 0 < usage.compute_seconds <= usage.wall_seconds
    assert usage.queue_seconds >= 0 and usage.device_name == "cpu" and usage.peak_memory_bytes > 0
    assert (usage.frames, usage.width, usage.height) == (job.num_frames, job.width, job.height)
    assert usage.worker is not None and usage.worker.hostname.startswith("gpu-")
    assert _read(job.thumbnail.name)[:3] == b"\xff\xd8\xff"
    report = read_manifest(data)
    assert report.trusted and job.manifest_validation_state == "Trusted"
    assert report.assertion(CONSENT_LABEL)["consent_record_id"] == job.consent_record_id
    import hashlib

    assert hashlib.sha256(data).hexdigest() == job.signed_sha256 != job.output_sha256
    return data


def test_text_to_video_then_variation_and_extension(gpu_worker):
    t = make_tester(training_use=True)
    job = submit(t, duration_seconds=2, aspect_ratio="16:9")
    job = wait_for_status(job, {"succeeded", "failed"})
    assert job.status == "succeeded", job.error_detail
    assert (job.width, job.height, job.num_frames, job.progress) == (112, 64, 33, 100)
    source = _check_output(job)
    assert read_manifest(source).assertion(TRAINING_LABEL)["entries"]["cawg.ai_training"]["use"] == "allowed"
    worker = Worker.objects.get(pk=job.worker_id)
    assert worker.status == "online" and worker.device == "cpu" and "gpu.wan-tiny" in worker.queues

    variation = wait_for_status(
        submit(t, mode="variation", prompt="the same, in winter", source_job=job, strength=0.75),
        {"succeeded", "failed"},
    )
    assert variation.status == "succeeded", variation.error_detail
    assert (variation.width, variation.height, variation.num_frames) == (112, 64, 33)
    _check_output(variation)
    assert variation.usage.steps == 3  # int(4 * 0.75)

    extension = wait_for_status(
        submit(t, mode="extension", prompt="the light turns", source_job=job, duration_seconds=1),
        {"succeeded", "failed"},
    )
    assert extension.status == "succeeded", extension.error_detail
    assert extension.num_frames == 33 + 16
    extended = _check_output(extension)
    # the extension continues the source: its first 33 frames are the source's (after re-encoding)
    a, b = media.decode_frames(source), media.decode_frames(extended)
    assert np.abs(a.astype(int) - b[:33].astype(int)).mean() < 4


def test_cancel_mid_run_stops_early_and_records_the_usage(gpu_worker):
    t = make_tester()
    job = submit(t, duration_seconds=7, aspect_ratio="1:1", steps=100)
    wait_until(
        lambda: GenerationJob.objects.filter(pk=job.pk, status="running", progress__gt=0).exists(),
        timeout=60,
        interval=0.02,
        message="job running with progress",
    )
    job_cancel(job=job, actor=t.artist)
    job = wait_for_status(job, {"cancelled", "succeeded", "failed"}, timeout=60)
    assert job.status == "cancelled"
    usage = UsageRecord.objects.get(job=job)
    assert usage.cancelled and 0 < usage.steps < 100 and usage.frames == 0
    assert 0 < usage.compute_seconds <= usage.wall_seconds
    assert not job.video


def test_a_broken_model_dir_fails_the_job_clearly_and_the_worker_keeps_serving(gpu_worker):
    t = make_tester()
    broken = wait_for_status(submit(t, profile_key="wan-broken"), {"succeeded", "failed"})
    assert broken.status == "failed" and broken.error == MODEL_UNAVAILABLE
    assert "model_index.json" in broken.error_detail or "JSON" in broken.error_detail
    assert not UsageRecord.objects.filter(job=broken).exists()  # our failure: no usage record, no charge
    good = wait_for_status(submit(t, duration_seconds=1), {"succeeded", "failed"})
    assert good.status == "succeeded" and gpu_worker.proc.poll() is None


def test_a_job_delivered_twice_runs_once(gpu_worker):
    from generation.tasks import run_job

    t = make_tester()
    job = submit(t, duration_seconds=1)
    run_job.apply_async(args=[job.pk], queue="gpu.wan-tiny")  # a redelivery
    job = wait_for_status(job, {"succeeded", "failed"})
    assert job.status == "succeeded"
    wait_until(lambda: "not claimable" in gpu_worker.log(), timeout=30, message="the duplicate to be dropped")
    assert UsageRecord.objects.filter(job=job).count() == 1 and job.attempts == 1
