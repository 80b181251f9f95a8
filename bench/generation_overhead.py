"""Platform overhead of generation: the same N jobs (preview, 33 frames)
  (a) through the platform path: API submit -> broker -> Celery worker -> MP4 -> usage, and
  (b) as bare pipeline calls + MP4 export in one warm process,
run one after the other on this machine. Prints both throughputs, the ratio a/b and the
median platform overhead per job (everything but the pipeline and the encoding).

    .venv/bin/python bench/generation_overhead.py [--n 20] [--aspect 16:9] [--steps 4]

Self-contained: it makes its own temporary var folder (SQLite DB, filesystem broker,
media, provenance keys, tiny checkpoint) and its own worker subprocess. Not run by tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _stop_worker(worker: subprocess.Popen, log) -> None:
    worker.terminate()
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
    log.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--aspect", default="16:9")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    if args.n < 1:
        sys.exit("--n must be >= 1")

    run_dir = Path(tempfile.mkdtemp(prefix="atelier-bench-"))
    env = {
        "ATELIER_VAR_DIR": str(run_dir),
        "DATABASE_URL": f"sqlite:///{run_dir / 'bench.sqlite3'}",
        "ATELIER_BROKER_FOLDER": str(run_dir / "broker"),
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "filesystem://"),
        "DJANGO_SETTINGS_MODULE": "tester_platform.settings",
        "HF_HUB_OFFLINE": "1",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("build_tiny_model", verbosity=0)

    from generation import media, pipelines
    from generation.conf import get_profile
    from generation.models import GenerationJob, UsageRecord

    profile = get_profile("wan-tiny")
    artist, program, submit, how = _setup_platform(args)
    print(
        f"device: {profile.resolved_device()}  torch threads: {__import__('torch').get_num_threads()}  "
        f"broker: {env['CELERY_BROKER_URL']}  N={args.n}  steps={args.steps}"
    )
    print(f"submit path for (a): {how}")

    # ---- (a) platform path ------------------------------------------------------------------
    log = open(run_dir / "worker.log", "w")  # noqa: SIM115 (the child process's log, open while it runs)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tester_platform",
            "worker",
            "-Q",
            profile.queue,
            "-P",
            "solo",
            "-c",
            "1",
            "-n",
            "bench-gpu@%h",
            "-l",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--prefetch-multiplier",
            "1",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(lambda: " ready." in (run_dir / "worker.log").read_text(), 120, "worker ready")
        warm = submit()
        _wait(lambda: _done(warm), 180, "warm-up job", interval=0.1)
        assert GenerationJob.objects.get(pk=warm).status == "succeeded", GenerationJob.objects.get(pk=warm).error_detail

        t0 = time.perf_counter()
        submitted_at = time.time()
        ids = [submit() for _ in range(args.n)]
        submit_ms = (time.perf_counter() - t0) * 1000 / args.n
        _wait(lambda: _all_done(ids), 60 + 30 * args.n, "all jobs", interval=0.1)
        total_a = time.perf_counter() - t0
    finally:
        _stop_worker(worker, log)
    jobs = list(GenerationJob.objects.filter(pk__in=ids).order_by("finished_at"))
    bad = [j for j in jobs if j.status != "succeeded"]
    if bad:
        sys.exit(f"{len(bad)} jobs did not succeed: {bad[0].error} {bad[0].error_detail[:500]}")
    usage = {u.job_id: u for u in UsageRecord.objects.filter(job_id__in=ids)}
    compute_a = [usage[j.pk].compute_seconds for j in jobs]

    # ---- (b) bare pipeline + MP4 export in this warm process ---------------------------------
    job0 = jobs[0]
    kwargs = dict(
        profile=profile,
        mode="text_to_video",
        prompt=job0.prompt,
        negative_prompt="",
        seed=job0.seed,
        width=job0.width,
        height=job0.height,
        num_frames=job0.num_frames,
        steps=args.steps,
    )
    pipelines.run(**kwargs)  # warm-up
    encode_s, compute_b = [], []
    t0 = time.perf_counter()
    for i in range(args.n):
        result = pipelines.run(**{**kwargs, "seed": job0.seed + i})
        e0 = time.perf_counter()
        media.encode_mp4(result.frames, fps=profile.fps)
        encode_s.append(time.perf_counter() - e0)
        compute_b.append(result.compute_seconds)
    total_b = time.perf_counter() - t0

    # ---- report --------------------------------------------------------------------------------
    # Per job in the back-to-back burst: the worker's cycle (previous finish -> this finish)
    # minus its pipeline time and a median encode = delivery, claim, progress writes,
    # thumbnail, signing, storage and the completion transaction.
    enc_med = statistics.median(encode_s)
    cycles = [(b.finished_at - a.finished_at).total_seconds() for a, b in pairwise(jobs)]
    overhead = [c - usage[j.pk].compute_seconds - enc_med for c, j in zip(cycles, jobs[1:], strict=True)]
    first_overhead = (jobs[0].finished_at.timestamp() - submitted_at) - compute_a[0] - enc_med
    thr_a, thr_b = args.n / total_a, args.n / total_b
    print(f"frames {job0.num_frames} @ {job0.width}x{job0.height}, {args.steps} steps")
    print(
        f"(a) platform path : {total_a:7.2f} s for {args.n} jobs -> {thr_a:6.3f} jobs/s "
        f"(median pipeline {statistics.median(compute_a) * 1000:.0f} ms, submit {submit_ms:.1f} ms/job)"
    )
    print(
        f"(b) bare pipeline : {total_b:7.2f} s for {args.n} jobs -> {thr_b:6.3f} jobs/s "
        f"(median pipeline {statistics.median(compute_b) * 1000:.0f} ms, encode {enc_med * 1000:.1f} ms)"
    )
    print(f"ratio a/b         : {thr_a / thr_b:.3f}")
    if overhead:
        print(
            f"platform overhead : median {statistics.median(overhead) * 1000:.1f} ms/job "
            f"(p90 {sorted(overhead)[int(0.9 * (len(overhead) - 1))] * 1000:.1f} ms; first job incl. submit + "
            f"delivery {first_overhead * 1000:.1f} ms)"
        )
    print(
        f"worker cycle      : median {statistics.median(cycles) * 1000:.0f} ms, max {max(cycles) * 1000:.0f} ms"
        if cycles
        else ""
    )
    queue = [usage[j.pk].queue_seconds for j in jobs]
    print(f"queue wait        : median {statistics.median(queue):.2f} s (jobs were submitted as one burst)")
    if args.keep:
        print(f"kept: {run_dir}")
    else:
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)


def _all_done(ids: list[int]) -> bool:
    # one cheap query a tenth of a second: the bench must not steal the worker's CPU
    from generation.models import GenerationJob

    return GenerationJob.objects.filter(pk__in=ids, status__in=["succeeded", "failed", "cancelled"]).count() == len(ids)


def _done(job_id: int) -> bool:
    from generation.models import GenerationJob

    return GenerationJob.objects.filter(pk=job_id, status__in=["succeeded", "failed", "cancelled"]).exists()


def _wait(pred, timeout: float, what: str, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def _setup_platform(args):
    """An artist enrolled with consent signed; returns a submit() that goes through the
    platform's API when it is there, else the engine service."""
    from tests.factories import ConsentDocumentFactory, ProgramFactory, enroll, make_artist, sign

    program = ProgramFactory(slug="bench", name="Bench")
    for field, value in (("max_concurrent_jobs", 10_000), ("daily_compute_seconds", 10_000_000)):
        if hasattr(program, field):
            setattr(program, field, value)
    program.save()
    ConsentDocumentFactory(program=program, version=1)
    artist = make_artist(email="bench@example.test")
    enrollment = enroll(artist, program)
    consent = sign(artist, program)
    body = {
        "program": program.pk,
        "mode": "text_to_video",
        "prompt": "a lighthouse at dusk",
        "duration_seconds": 2,
        "aspect_ratio": args.aspect,
        "resolution": "preview",
        "seed": 1,
    }
    try:
        from rest_framework.test import APIClient

        client = APIClient()
        client.force_authenticate(artist)
        probe = client.post("/api/v1/generations/", body, format="json")
        if probe.status_code == 201:
            from generation.models import GenerationJob

            GenerationJob.objects.filter(pk=probe.json()["id"]).update(status="cancelled")

            def submit_api() -> int:
                response = client.post("/api/v1/generations/", body, format="json")
                assert response.status_code == 201, response.content
                return response.json()["id"]

            return artist, program, submit_api, "POST /api/v1/generations/ (DRF, in-process client)"
        reason = f"API answered {probe.status_code}: {probe.content[:200]!r}"
    except Exception as exc:  # the platform API may not be built yet
        reason = f"API unavailable ({type(exc).__name__}: {exc})"

    from generation.services import Budget, build_params, job_submit

    def submit_engine() -> int:
        params = build_params(
            mode="text_to_video",
            prompt=body["prompt"],
            duration_seconds=2,
            aspect_ratio=args.aspect,
            resolution="preview",
            seed=1,
            steps=args.steps,
        )
        return job_submit(
            artist=artist,
            program_id=program.pk,
            enrollment_id=enrollment.pk,
            consent_record_id=consent.pk,
            training_use=False,
            params=params,
            budget=Budget(10_000, 1e9, 1.0),
        ).pk

    return artist, program, submit_engine, f"engine service generation.services.job_submit ({reason})"


if __name__ == "__main__":
    main()
