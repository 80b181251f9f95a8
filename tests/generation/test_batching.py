"""Batching, fair claims and the step-cache gate (issue 18), with one real Celery worker
process on the tiny model shared by the module.

To make a batch form deterministically, each test first occupies the worker with a long
"blocker" job of another shape, submits its jobs while the blocker runs (they queue up),
then cancels the blocker: the worker's next claim sees all of them at once."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.storage import default_storage

from generation import media
from generation.models import GenerationJob, UsageRecord
from generation.provenance import CONSENT_LABEL, read_manifest
from generation.quality import psnr as _psnr
from generation.services import job_cancel
from tests.generation.conftest import BIG_BUDGET, make_tester, submit, wait_for_status
from tests.worker import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BURST_BUDGET = {**BIG_BUDGET, "max_concurrent_jobs": 25}
PREVIEW = dict(duration_seconds=2, aspect_ratio="16:9", resolution="preview")  # 112×64, 33 frames


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as fh:
        return fh.read()


class Blocker:
    """A long job of another shape (1:1) that keeps the worker busy until cancelled."""

    def __enter__(self) -> Blocker:
        self.tester = make_tester()
        self.job = submit(self.tester, duration_seconds=7, aspect_ratio="1:1", steps=100)
        wait_until(
            lambda: GenerationJob.objects.filter(pk=self.job.pk, status="running", progress__gt=0).exists(),
            timeout=90,
            interval=0.02,
            message="the blocker to run",
        )
        return self

    def __exit__(self, *exc) -> None:
        job_cancel(job=GenerationJob.objects.get(pk=self.job.pk), actor=self.tester.artist)
        wait_for_status(self.job, {"cancelled", "succeeded", "failed"}, timeout=60)


def _finished(jobs, timeout: float = 120) -> list[GenerationJob]:
    return [wait_for_status(j, {"succeeded", "failed", "cancelled"}, timeout=timeout) for j in jobs]


def _check_own_output(job: GenerationJob) -> bytes:
    data = _read(job.video.name)
    info = media.probe(data)
    assert (info["width"], info["height"], info["frames"]) == (job.width, job.height, job.num_frames)
    assert hashlib.sha256(data).hexdigest() == job.signed_sha256
    report = read_manifest(data)
    assert report.trusted and report.assertion(CONSENT_LABEL)["consent_record_id"] == job.consent_record_id
    return data


def test_four_compatible_jobs_run_as_one_batch_each_with_its_own_outputs_and_fair_usage(gpu_worker):
    solo_tester = make_tester()
    solo = wait_for_status(
        submit(solo_tester, prompt="a red kite over dunes", seed=4242, **PREVIEW), {"succeeded", "failed"}
    )
    assert solo.status == "succeeded", solo.error_detail
    assert solo.usage.batch_size == 1 and solo.usage.batch_compute_seconds == pytest.approx(solo.usage.compute_seconds)

    testers = [make_tester() for _ in range(4)]
    prompts = ["a red kite over dunes", "a lighthouse at dusk", "rain on a window", "a fox in snow"]
    with Blocker():
        jobs = [
            submit(t, prompt=p, seed=4242 if i == 0 else 100 + i, **PREVIEW)
            for i, (t, p) in enumerate(zip(testers, prompts, strict=True))
        ]
    jobs = _finished(jobs)
    assert [j.status for j in jobs] == ["succeeded"] * 4, [j.error_detail for j in jobs]

    usages = [UsageRecord.objects.get(job=j) for j in jobs]
    assert len({u.batch_id for u in usages}) == 1 and usages[0].batch_id  # one call
    assert [u.batch_size for u in usages] == [4, 4, 4, 4]
    call = usages[0].batch_compute_seconds
    assert call > 0 and all(u.batch_compute_seconds == call for u in usages)
    for u in usages:  # each pays a quarter of the shared call (and nothing else: one-segment plans)
        assert u.compute_seconds == pytest.approx(call / 4, rel=1e-6)
        assert u.steps == 4 and u.frames == 33 and u.cancelled is False
    assert sum(u.compute_seconds for u in usages) == pytest.approx(call, rel=1e-6)
    assert len({j.started_at for j in jobs}) == 1  # claimed together

    datas = [_check_own_output(j) for j in jobs]
    assert len({hashlib.sha256(d).hexdigest() for d in datas}) == 4  # four different videos
    assert len({j.video.name for j in jobs}) == 4 and len({j.thumbnail.name for j in jobs}) == 4

    # The same job (prompt, seed, parameters) alone and in the batch: the same video.
    alone = media.decode_frames(_read(solo.video.name))
    same = _psnr(alone, media.decode_frames(datas[0]))
    assert same >= 40.0, same
    # …and not because every video looks alike: random weights make similar grey noise (the
    # other jobs of the batch come out about 39-40 dB from it), so the same job must also be
    # clearly closer than every other job of the batch (5 dB: a third of the error or less).
    nearest_other = max(_psnr(alone, media.decode_frames(d)) for d in datas[1:])
    assert same >= nearest_other + 5, (same, nearest_other)


def test_cancelling_one_job_mid_batch_leaves_the_other_three_intact(gpu_worker):
    testers = [make_tester() for _ in range(4)]
    with Blocker():
        jobs = [submit(t, prompt=f"scene {i}", seed=i, steps=60, **PREVIEW) for i, t in enumerate(testers)]
    wait_until(
        lambda: (
            GenerationJob.objects.filter(pk__in=[j.pk for j in jobs], status="running", progress__gt=0).count() == 4
        ),
        timeout=90,
        interval=0.02,
        message="the four jobs running together",
    )
    job_cancel(job=GenerationJob.objects.get(pk=jobs[1].pk), actor=testers[1].artist)
    jobs = _finished(jobs)
    assert [j.status for j in jobs] == ["succeeded", "cancelled", "succeeded", "succeeded"], [
        j.error_detail for j in jobs
    ]

    cancelled = UsageRecord.objects.get(job=jobs[1])
    assert cancelled.cancelled and cancelled.frames == 0 and 0 < cancelled.steps < 60
    assert not jobs[1].video and not jobs[1].signed_sha256  # its output was discarded
    others = [UsageRecord.objects.get(job=j) for j in (jobs[0], jobs[2], jobs[3])]
    assert len({u.batch_id for u in others + [cancelled]}) == 1
    assert all(u.batch_size == 4 and u.steps == 60 for u in others)
    # It pays its quarter of the call only for the steps it was in it.
    call = cancelled.batch_compute_seconds
    assert cancelled.compute_seconds == pytest.approx(call / 4 * cancelled.steps / 60, rel=1e-6)
    assert cancelled.compute_seconds < others[0].compute_seconds == pytest.approx(call / 4, rel=1e-6)
    for j in (jobs[0], jobs[2], jobs[3]):
        _check_own_output(j)


def test_incompatible_jobs_are_not_batched(gpu_worker):
    t = make_tester()
    with Blocker():
        jobs = [
            submit(t, prompt="wide", **PREVIEW),
            submit(t, prompt="tall", duration_seconds=2, aspect_ratio="9:16", resolution="preview"),  # size
            submit(t, prompt="short", duration_seconds=1, aspect_ratio="16:9", resolution="preview"),  # frames
            submit(t, prompt="more steps", steps=5, **PREVIEW),  # steps
        ]
    jobs = _finished(jobs)
    assert [j.status for j in jobs] == ["succeeded"] * 4, [j.error_detail for j in jobs]
    usages = [UsageRecord.objects.get(job=j) for j in jobs]
    assert [u.batch_size for u in usages] == [1, 1, 1, 1]
    assert len({j.started_at for j in jobs}) == 4


def test_an_artists_burst_does_not_delay_another_artists_single_job_by_more_than_one_batch(gpu_worker):
    from generation.services import jobs_cancel_queued

    busy = make_tester()
    other = make_tester(busy.program)  # same program: fairness is between its artists
    with Blocker():
        burst = [submit(busy, prompt=f"burst {i}", seed=i, budget=BURST_BUDGET, **PREVIEW) for i in range(20)]
        # Submitted last, and of another size: it cannot ride along in the burst's batches,
        # so only the claim order decides when it runs.
        single = submit(
            other, prompt="just one", seed=99, duration_seconds=2, aspect_ratio="9:16", resolution="preview"
        )
    single = wait_for_status(single, {"succeeded", "failed"}, timeout=120)
    assert single.status == "succeeded", single.error_detail
    # What is left of the burst is not needed to judge the order: stop it (keeps the test short).
    jobs_cancel_queued(program_id=busy.program.pk, artist_id=busy.artist.pk)
    burst = _finished(burst)
    started = [j.started_at for j in burst if j.started_at is not None]
    batches_before = {t for t in started if t < single.started_at}
    assert len(batches_before) <= 1, f"{len(batches_before)} batches of the burst ran before the single job"
    # Oldest-first would have run all five of the burst's batches first.
    assert sum(1 for j in burst if j.status == "cancelled" and j.started_at is None) >= 8
    assert UsageRecord.objects.get(job=single).batch_size == 1
    assert max(UsageRecord.objects.get(job=j).batch_size for j in burst if j.status == "succeeded") == 4
