"""Issue 18 without a worker: the step-cache gate, the compile guard on CPU, batch keys and
limits, the fair claim order and the batch claim's conditional UPDATE."""

from __future__ import annotations

import logging
from dataclasses import replace as with_overrides  # a profile with some fields changed

import numpy as np
import pytest

from generation import pipelines, plan, services
from generation.conf import batch_limit, get_profile, profiles
from generation.errors import ModelProfileError
from generation.models import GenerationJob
from generation.quality import psnr, ssim
from tests.generation.conftest import BIG_BUDGET, make_tester, submit

FIGURES = {
    "kind": "first_block",
    "threshold": 0.05,
    "psnr_db": 41.2,
    "ssim": 0.97,
    "measured": "bench/results/throughput-cpu.txt",
}


# --- the step-cache gate -------------------------------------------------------------------


def test_every_configured_profile_passes_the_step_cache_gate():
    for key in profiles():
        get_profile(key, check_dir=False)  # raises for a cache enabled without its figures


@pytest.mark.parametrize(
    "cache, message",
    [
        ({"kind": "first_block", "threshold": 0.05}, "without its measured figures"),
        ({**FIGURES, "ssim": None}, "without its measured figures"),
        ({**FIGURES, "measured": ""}, "where its figures were measured"),
        ({**FIGURES, "psnr_db": 24.0}, "below the gate"),
        ({**FIGURES, "ssim": 0.5}, "below the gate"),
        ({**FIGURES, "kind": "magic"}, "kind must be one of"),
    ],
)
def test_a_profile_cannot_enable_step_caching_without_passing_figures(settings, cache, message):
    settings.GENERATION_MODEL_PROFILES = {"wan-tiny": {"step_cache": cache}}
    with pytest.raises(ModelProfileError, match=message):
        get_profile("wan-tiny", check_dir=False)


def test_a_profile_with_its_figures_enables_diffusers_first_block_cache(settings, tiny_model_dir):
    from diffusers.hooks.hooks import HookRegistry

    settings.GENERATION_MODEL_PROFILES = {"wan-tiny-cached": {"extends": "wan-tiny", "step_cache": FIGURES}}
    profile = get_profile("wan-tiny-cached")
    try:
        pipe = pipelines.get_pipeline(profile, "text_to_video")
        assert pipe.transformer.is_cache_enabled
        leader = HookRegistry.check_if_exists_or_initialize(pipe.transformer.blocks[0]).hooks
        assert "fbc_leader_block_hook" in leader, list(leader)
        # The variation pipeline shares the transformer (from_pipe): enabled once, not twice
        # (diffusers refuses a second enable_cache).
        assert pipelines.get_pipeline(profile, "variation").transformer is pipe.transformer
        result = pipelines.run(
            profile=profile,
            mode="text_to_video",
            prompt="a kite",
            negative_prompt="",
            seed=1,
            width=112,
            height=64,
            num_frames=9,
            steps=3,
        )
        assert result.frames.shape == (9, 64, 112, 3) and result.steps_done == 3
        plain = pipelines.get_pipeline(get_profile("wan-tiny"), "text_to_video")
        assert not plain.transformer.is_cache_enabled
    finally:
        pipelines.clear_cache()


# --- compile: warm on CUDA, skipped (and said so) on CPU ------------------------------------


def test_compile_is_skipped_on_cpu_with_a_clear_note_and_touches_nothing(monkeypatch):
    profile = with_overrides(
        get_profile("wan-tiny", check_dir=False), compile=True, device="cpu", compile_buckets=((112, 64, 33),)
    )
    monkeypatch.setattr(pipelines, "_compile_cuda", lambda p: pytest.fail("compiled on a CPU"))
    monkeypatch.setattr(pipelines, "get_pipeline", lambda *a, **k: pytest.fail("loaded a pipeline to compile"))
    result = pipelines.compile_for_worker(profile)
    assert result["compiled"] is False and result["seconds"] is None
    assert "skipped (no CUDA device" in result["note"]
    off = pipelines.compile_for_worker(with_overrides(profile, compile=False))
    assert off["compiled"] is False and "compile off" in off["note"]


def test_compile_runs_on_cuda_profiles_only_through_the_compile_path(monkeypatch):
    profile = with_overrides(get_profile("wan-tiny", check_dir=False), compile=True, device="cuda")
    monkeypatch.setattr(pipelines, "_compile_cuda", lambda p: {"compiled": True, "seconds": 12.5, "note": "ok"})
    assert pipelines.compile_for_worker(profile) == {"compiled": True, "seconds": 12.5, "note": "ok"}


@pytest.mark.django_db
def test_the_warm_up_logs_and_records_what_it_did_on_the_worker_row(settings, caplog, monkeypatch, tiny_model_dir):
    from generation import workers
    from generation.models import Worker

    monkeypatch.setattr(workers, "close_old_connections", lambda: None)  # the test's transaction stays open

    settings.GENERATION_MODEL_PROFILES = {"wan-tiny": {"compile": True, "device": "cpu"}}
    services.worker_register(
        hostname="gpu9@host",
        queues=["gpu.wan-tiny"],
        device="cpu",
        device_name="cpu",
        memory_bytes=0,
        torch_version="",
        cuda_version="",
        pid=1,
    )
    try:
        with caplog.at_level(logging.INFO, logger="generation.workers"):
            workers._warm_up(["gpu.wan-tiny"], "gpu9@host")
    finally:
        pipelines.clear_cache()
    row = Worker.objects.get(hostname="gpu9@host")
    assert row.compile_seconds is None and "wan-tiny: torch.compile skipped (no CUDA device" in row.warmup_note
    assert "torch.compile skipped" in caplog.text


# --- batch keys and limits -----------------------------------------------------------------


def _row(**kw):
    row = {
        "model_profile": "wan-tiny",
        "mode": "text_to_video",
        "width": 112,
        "height": 64,
        "steps": 4,
        "num_frames": 33,
        "segments": [{"op": "text", "frames": 33, "prompt": "x"}],
    }
    row.update(kw)
    return row


def test_batch_keys_match_only_jobs_that_can_share_their_first_call():
    base = plan.batch_key(_row())
    assert base == ("wan-tiny", "text_to_video", 112, 64, 33, 4)
    assert plan.batch_key(_row(segments=[{"op": "text", "frames": 33, "prompt": "another"}])) == base
    assert plan.batch_key(_row(segments=[], num_frames=33)) == base  # a job queued before plans
    for other in (
        _row(width=64, height=112),
        _row(steps=5),
        _row(model_profile="wan2.1-t2v-1.3b"),
        _row(segments=[{"op": "text", "frames": 17}]),
        _row(mode="storyboard"),
    ):
        assert plan.batch_key(other) not in (None, base)
    assert plan.batch_key(_row(mode="image_to_video", segments=[{"op": "image", "frames": 33, "image": 1}])) is None
    assert plan.batch_key(_row(mode="variation", segments=[{"op": "vary", "frames": 33}])) is None


def test_the_batch_limit_is_bounded_by_memory():
    tiny = get_profile("wan-tiny", check_dir=False)
    assert batch_limit(tiny, width=112, height=64, frames=33) == tiny.max_batch == 4
    big = with_overrides(tiny, batch_max_latent_tokens=20_000)
    assert batch_limit(big, width=848, height=480, frames=33) == 1  # 14,310 tokens each
    assert batch_limit(with_overrides(tiny, max_batch=1), width=112, height=64, frames=33) == 1


# --- fair claims -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_claim_takes_each_artists_oldest_job_in_turn_and_fills_the_batch_fairly():
    busy = make_tester()
    other = make_tester(busy.program)
    budget = {**BIG_BUDGET, "max_concurrent_jobs": 25}
    burst = [submit(busy, prompt=f"burst {i}", budget=budget) for i in range(10)]
    single = submit(other, prompt="one")
    odd = submit(other, prompt="tall", aspect_ratio="9:16")  # not compatible with the others
    first = services.jobs_claim_batch(job_id=burst[5].pk, worker=None)  # any message wakes the queue
    assert [j.pk for j in first] == [burst[0].pk, single.pk, burst[1].pk, burst[2].pk]
    assert all(j.status == "running" and j.attempts == 1 for j in first)
    assert len({j.started_at for j in first}) == 1
    # A taken job's message claims the next batch. The busy artist was just served three
    # jobs, the other one: the other artist's next job leads, though the burst's is older.
    second = services.jobs_claim_batch(job_id=single.pk, worker=None)
    assert [j.pk for j in second] == [odd.pk]  # nothing queued matches its size: a batch of one
    third = services.jobs_claim_batch(job_id=odd.pk, worker=None)
    assert [j.pk for j in third] == [b.pk for b in burst[3:7]]


@pytest.mark.django_db
def test_a_batch_claim_never_takes_a_job_twice_or_a_cancelled_one(tester):
    jobs = [submit(tester, prompt=f"p{i}") for i in range(3)]
    GenerationJob.objects.filter(pk=jobs[1].pk).update(cancel_requested=True)
    claimed = services.jobs_claim_batch(job_id=jobs[0].pk, worker=None)
    assert [j.pk for j in claimed] == [jobs[0].pk, jobs[2].pk]
    assert services.jobs_claim_batch(job_id=jobs[0].pk, worker=None) == []
    assert services.job_claim(job_id=jobs[2].pk, worker=None) is None
    assert GenerationJob.objects.get(pk=jobs[2].pk).attempts == 1


# --- quality figures -------------------------------------------------------------------------


def test_psnr_and_ssim():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (2, 32, 48, 3), dtype=np.uint8)
    assert psnr(a, a) == float("inf") and ssim(a, a) == pytest.approx(1.0)
    noisy = np.clip(a.astype(int) + rng.integers(-8, 9, a.shape), 0, 255).astype(np.uint8)
    assert 30 < psnr(a, noisy) < 40 and 0.9 < ssim(a, noisy) < 1.0
    assert ssim(a, 255 - a) < 0.1
    with pytest.raises(ValueError):
        psnr(a, a[:1])


# --- figures from stored rows ------------------------------------------------------------------


def _finish(
    tester, worker, *, compute: float, batch_id: str = "", size: int = 1, call: float = 0.0, queue_wait: float = 0.0
):
    import datetime as dt

    from django.utils import timezone

    job = submit(tester, prompt="x")
    services.job_claim(job_id=job.pk, worker=worker)
    started = timezone.now()
    GenerationJob.objects.filter(pk=job.pk).update(
        enqueued_at=started - dt.timedelta(seconds=queue_wait), started_at=started
    )
    usage = services.UsageStats(
        device_name="cpu",
        compute_seconds=compute,
        wall_seconds=compute,
        steps=4,
        frames=33,
        peak_memory_bytes=1,
        batch_size=size,
        batch_compute_seconds=call or compute,
        batch_id=batch_id,
    )
    assert services.job_succeed(job_id=job.pk, attempt=1, outputs=services.Outputs(), usage=usage)


@pytest.mark.django_db
def test_throughput_figures_count_each_batched_call_once():
    import datetime as dt

    from django.utils import timezone

    from generation.selectors import throughput_stats

    t = make_tester()
    worker = services.worker_register(
        hostname="gpu7@host",
        queues=["gpu.wan-tiny"],
        device="cpu",
        device_name="cpu",
        memory_bytes=0,
        torch_version="",
        cuda_version="",
        pid=1,
    )
    for wait in (1.0, 2.0, 3.0, 4.0):  # one call of four jobs: 8 s, 2 s each
        _finish(t, worker, compute=2.0, batch_id="b-1", size=4, call=8.0, queue_wait=wait)
    _finish(t, worker, compute=4.0, queue_wait=20.0)  # one job alone: 4 s
    now = timezone.now() + dt.timedelta(seconds=1)
    stats = throughput_stats(since=now - dt.timedelta(seconds=120), now=now)
    overall = stats["overall"]
    assert (overall["jobs"], overall["calls"], overall["gpu_seconds"]) == (5, 2, 12.0)
    assert overall["jobs_per_gpu_second"] == pytest.approx(5 / 12, abs=1e-4)
    assert overall["batch_sizes"] == {1: 1, 4: 1} and overall["mean_batch_size"] == 2.5
    assert overall["busy_percent"] == pytest.approx(100 * 12 / 120, abs=0.1)
    assert overall["queue_wait_p50"] == pytest.approx(3.0, abs=0.05)
    assert overall["queue_wait_p95"] == pytest.approx(20.0, abs=0.05)
    assert stats["workers"][worker.pk]["jobs"] == 5


@pytest.mark.django_db
def test_the_workers_page_and_metrics_show_the_throughput(client, moderator, settings):
    t = make_tester()
    worker = services.worker_register(
        hostname="gpu8@host",
        queues=["gpu.wan-tiny"],
        device="cpu",
        device_name="cpu",
        memory_bytes=0,
        torch_version="",
        cuda_version="",
        pid=1,
    )
    services.worker_record_warmup(
        hostname="gpu8@host", compile_seconds=None, note="wan-tiny: torch.compile skipped (no CUDA device)"
    )
    for _ in range(2):
        _finish(t, worker, compute=1.5, batch_id="b-2", size=2, call=3.0)
    client.force_login(moderator)
    page = client.get("/dashboard/workers/").content.decode()
    assert "Jobs per GPU-second" in page and "1 × 2" in page and "torch.compile skipped" in page
    settings.METRICS_TOKEN = "s3cret"
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()
    assert 'atelier_pipeline_calls_by_batch_size{size="2"} 1' in body
    assert "atelier_jobs_per_gpu_second 0.6667" in body
    assert 'atelier_jobs_per_gpu_second{worker="gpu8@host"} 0.6667' in body
    for family in ("atelier_gpu_busy_ratio", "atelier_queue_wait_seconds"):
        assert f"# TYPE {family} gauge" in body
