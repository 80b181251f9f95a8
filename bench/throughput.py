"""More video per GPU-second than the bare pipeline (issue 18): the same N preview jobs
  (a) through the platform: submitted as one burst (queue depth N) -> broker -> a real
      Celery worker that claims fair batches of compatible jobs and runs each batch as
      one pipeline call -> one MP4, manifest and usage record per job, and
  (b) through the bare diffusers pipeline, called directly one job at a time in this warm
      process (WanPipeline.from_pretrained on the same checkpoint, same dtype, size,
      frames, steps, prompts and seeds; each MP4 encoded, as a product must),
in the same run, each with and without the profile's step cache (diffusers' first-block
cache). Prints jobs/s, the ratio a/b, the batch sizes, CPU (or GPU) busy %, and the
cache's PSNR/SSIM against the uncached output of the same jobs.

    .venv/bin/python bench/throughput.py [--n 8] [--steps 4] [--profile wan-tiny]
        [--cache-threshold 0.05] [--no-cache]

Self-contained like bench/generation_overhead.py: its own temporary var folder (SQLite,
filesystem broker, media, keys, tiny checkpoint) and worker subprocess. On a GPU host
give --profile and the checkpoint through GENERATION_MODEL_PROFILES_JSON (see
bench/cuda_device.sh). Not run by tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = [
    "a lighthouse at dusk, waves",
    "a red kite over dunes",
    "rain on a window at night",
    "a fox in fresh snow",
    "a paper boat on a river",
    "neon signs in the fog",
    "a hummingbird at a flower",
    "waves on black sand",
]


def _cpu_seconds(pid: int | None = None) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times() if pid else psutil.Process().cpu_times()
    return float(times.user + times.system)


def _wait(pred, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--profile", default="wan-tiny")
    ap.add_argument("--aspect", default="16:9")
    ap.add_argument("--resolution", default="preview")
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--cache-threshold", type=float, default=0.05)
    ap.add_argument("--no-cache", action="store_true", help="skip the runs with the step cache")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--build-13b",
        action="store_true",
        help="GPU host: build the random-weight Wan 2.1 1.3B-size checkpoint (bench/cuda_generation.py's "
        "builder) and run the wan2.1-t2v-1.3b profile on it in bf16",
    )
    ap.add_argument("--compile", action="store_true", help="let the worker compile its buckets at start (CUDA)")
    args = ap.parse_args()
    if args.n < 1:
        sys.exit("--n must be >= 1")

    run_dir = Path(tempfile.mkdtemp(prefix="atelier-throughput-"))
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
    if args.build_13b:
        sys.path.insert(0, str(ROOT))
        import torch

        from bench.cuda_generation import build_checkpoint

        model_dir = run_dir / "models" / "wan21-t2v-1.3b-random"
        device = "cuda" if torch.cuda.is_available() else "cpu"
        build_checkpoint(model_dir, small=device == "cpu", te_layers=2, device=device, dtype=torch.bfloat16)
        args.profile = "wan2.1-t2v-1.3b"
        env["GENERATION_MODEL_DIR_WAN21_T2V_1_3B"] = str(model_dir)
        env["GENERATION_MODEL_PROFILES_JSON"] = json.dumps(
            {
                args.profile: {
                    "device": device,
                    "dtype": "bfloat16" if device == "cuda" else "float32",
                    "compile": bool(args.compile),
                }
            }
        )
    elif args.compile:
        env["GENERATION_MODEL_PROFILES_JSON"] = json.dumps({args.profile: {"compile": True}})
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.profile == "wan-tiny":
        call_command("build_tiny_model", verbosity=0)

    import torch

    from generation import media
    from generation.conf import batch_limit, get_profile, latent_tokens
    from generation.presets import frame_size, frames_for_duration

    profile = get_profile(args.profile)
    device = profile.resolved_device()
    width, height = frame_size(args.aspect, args.resolution, profile=profile)
    frames = frames_for_duration(args.seconds, profile=profile)
    limit = batch_limit(profile, width=width, height=height, frames=frames)
    say = print
    say(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other processes share these cores)")
    say(
        f"device: {device} ({torch.cuda.get_device_name(0) if device.startswith('cuda') else 'cpu'})  "
        f"cores: {os.cpu_count()}  torch threads: {torch.get_num_threads()}  torch {torch.__version__}"
    )
    say(
        f"profile: {profile.key}  dtype: {profile.dtype}  N={args.n}  {width}×{height}×{frames} frames "
        f"({latent_tokens(width=width, height=height, frames=frames)} latent tokens)  steps={args.steps}  "
        f"CFG {profile.guidance_scale}  batch limit {limit} (max_batch {profile.max_batch}, "
        f"token bound {profile.batch_max_latent_tokens or '-'})"
    )
    jobs = [(PROMPTS[i % len(PROMPTS)], 1000 + i) for i in range(args.n)]

    # ---- (b) the bare pipeline, one job at a time -----------------------------------------------
    bare = _bare(profile, jobs, width=width, height=height, frames=frames, steps=args.steps, cache=None)
    cache_figures = None
    bare_cached = None
    if not args.no_cache:
        bare_cached = _bare(
            profile, jobs, width=width, height=height, frames=frames, steps=args.steps, cache=args.cache_threshold
        )
        from generation.quality import psnr, ssim

        p = [psnr(a, b) for a, b in zip(bare["frames"], bare_cached["frames"], strict=True)]
        s = [ssim(a, b) for a, b in zip(bare["frames"], bare_cached["frames"], strict=True)]
        cache_figures = {
            "kind": "first_block",
            "threshold": args.cache_threshold,
            "psnr_db": round(min(p), 2),
            "ssim": round(min(s), 4),
            "measured": f"bench/throughput.py {profile.key} {width}x{height}x{frames} {args.steps} steps, "
            f"{args.n} prompts, worst of the set",
        }

    # ---- (a) the platform, real worker -----------------------------------------------------------
    program_setup = _setup(args)
    plat = _platform(run_dir, env, profile, jobs, program_setup, args, step_cache=None, tag="plain")
    plat_cached = None
    if cache_figures is not None:
        from generation.conf import STEP_CACHE_MIN_PSNR_DB, STEP_CACHE_MIN_SSIM

        if cache_figures["psnr_db"] >= STEP_CACHE_MIN_PSNR_DB and cache_figures["ssim"] >= STEP_CACHE_MIN_SSIM:
            plat_cached = _platform(
                run_dir, env, profile, jobs, program_setup, args, step_cache=cache_figures, tag="cached"
            )

    # ---- identical work: the platform's videos are the bare pipeline's ---------------------------
    from generation.quality import psnr

    same = [psnr(media.decode_frames(a), media.decode_frames(b)) for a, b in zip(plat["mp4"], bare["mp4"], strict=True)]

    # ---- report ---------------------------------------------------------------------------------
    def line(name: str, r: dict[str, Any]) -> None:
        say(
            f"{name:<34}: {r['wall']:7.2f} s for {args.n} jobs -> {args.n / r['wall']:6.3f} jobs/s  "
            f"{r['cpu'] / args.n:6.2f} CPU-s/job  (pipeline {r['pipeline']:.2f} s, busy {r['busy']:.0f} %"
            f"{', batches ' + r['batches'] if 'batches' in r else ''})"
        )

    say("")
    line("(b) bare pipeline, one at a time", bare)
    line("(a) platform (batched)", plat)
    say(
        f"ratio a/b                         : {bare['wall'] / plat['wall']:.2f}×  "
        f"(platform jobs/s over bare jobs/s, no cache)"
    )
    say(
        f"CPU-seconds per job, b/a          : {bare['cpu'] / plat['cpu']:.2f}×  (less sensitive to other load on "
        "a shared host than wall time: the work each path spends on a job)"
    )
    say(
        f"same work                         : platform MP4 vs bare MP4 of the same job, PSNR min "
        f"{min(same):.1f} dB over {len(same)} jobs"
    )
    if bare_cached is not None and cache_figures is not None:
        line("(b') bare pipeline + step cache", bare_cached)
        say(
            f"step cache quality                : PSNR {cache_figures['psnr_db']:.2f} dB, "
            f"SSIM {cache_figures['ssim']:.4f} "
            f"(worst job, cached vs uncached, threshold {args.cache_threshold})"
        )
        if plat_cached is not None:
            line("(a') platform + step cache", plat_cached)
            say(
                f"ratio a'/b                        : {bare['wall'] / plat_cached['wall']:.2f}×  "
                f"(a'/b' {bare_cached['wall'] / plat_cached['wall']:.2f}×)"
            )
        else:
            say(
                "(a') platform + step cache        : not run: the figures are below the gate "
                f"({STEP_CACHE_MIN_PSNR_DB} dB, SSIM {STEP_CACHE_MIN_SSIM}), so no profile may enable it"
            )
        say(f'profile entry for these figures   : "step_cache": {json.dumps(cache_figures)}')
    say("CPU-s/job: CPU time of the process doing the work (this process for b, the worker for a) per job")
    say(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    say(
        "busy % = CPU time of the process doing the work over (wall × cores) on CPU; pipeline seconds over wall on CUDA"
    )
    if args.keep:
        say(f"kept: {run_dir}")
    else:
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)


def _bare(profile, jobs, *, width: int, height: int, frames: int, steps: int, cache: float | None) -> dict[str, Any]:
    """Diffusers as a script would call it: one pipeline, one job per call, then an MP4."""
    import torch
    from diffusers import WanPipeline

    from generation import media
    from generation.media import to_uint8

    pipe = WanPipeline.from_pretrained(profile.model_dir, dtype=profile.torch_dtype(), local_files_only=True)
    pipe.to(profile.resolved_device())
    pipe.set_progress_bar_config(disable=True)
    if cache is not None:
        from diffusers.hooks import FirstBlockCacheConfig

        pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=cache))
    cuda = profile.resolved_device().startswith("cuda")

    def call(prompt: str, seed: int):
        with torch.inference_mode():
            return pipe(
                prompt=prompt,
                negative_prompt=None,
                height=height,
                width=width,
                num_frames=frames,
                num_inference_steps=steps,
                guidance_scale=profile.guidance_scale,
                generator=torch.Generator("cpu").manual_seed(seed),
                output_type="np",
                max_sequence_length=profile.max_sequence_length,
            ).frames[0]

    call(*jobs[0])  # warm-up, as the worker warms up
    out, mp4s, pipeline = [], [], 0.0
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    for prompt, seed in jobs:
        p0 = time.perf_counter()
        f = to_uint8(call(prompt, seed))
        if cuda:
            torch.cuda.synchronize()
        pipeline += time.perf_counter() - p0
        mp4s.append(media.encode_mp4(f, fps=profile.fps))
        out.append(f)
    wall = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    busy = (100 * pipeline / wall) if cuda else 100 * cpu / (wall * (os.cpu_count() or 1))
    return {"wall": wall, "pipeline": pipeline, "busy": busy, "cpu": cpu, "frames": out, "mp4": mp4s}


def _setup(args) -> dict[str, Any]:
    from tests.factories import (
        ConsentDocumentFactory,
        ProgramFactory,
        enroll,
        make_artist,
        sign,
    )

    program = ProgramFactory(slug="bench", name="Bench")
    ConsentDocumentFactory(program=program, version=1)
    artist = make_artist(email="bench@example.test")
    return {
        "program": program,
        "artist": artist,
        "enrollment": enroll(artist, program),
        "consent": sign(artist, program),
    }


def _platform(
    run_dir: Path,
    env: dict[str, str],
    profile,
    jobs,
    s: dict[str, Any],
    args,
    *,
    step_cache: dict[str, Any] | None,
    tag: str,
) -> dict[str, Any]:
    from django.db import transaction

    from generation.models import GenerationJob, UsageRecord
    from generation.services import Budget, build_params, job_submit

    def submit(prompt: str, seed: int) -> int:
        params = build_params(
            mode="text_to_video",
            prompt=prompt,
            duration_seconds=args.seconds,
            aspect_ratio=args.aspect,
            resolution=args.resolution,
            seed=seed,
            steps=args.steps,
            profile_key=profile.key,
        )
        return job_submit(
            artist=s["artist"],
            program_id=s["program"].pk,
            enrollment_id=s["enrollment"].pk,
            consent_record_id=s["consent"].pk,
            training_use=False,
            params=params,
            budget=Budget(10_000, 1e9, 1.0),
        ).pk

    def done(ids: list[int]) -> bool:
        ended = GenerationJob.objects.filter(pk__in=ids, status__in=["succeeded", "failed", "cancelled"])
        return ended.count() == len(ids)

    worker_env = {**os.environ, **env}
    if step_cache is not None:
        layers = json.loads(worker_env.get("GENERATION_MODEL_PROFILES_JSON") or "{}")
        layers[profile.key] = {**layers.get(profile.key, {}), "step_cache": step_cache}
        worker_env["GENERATION_MODEL_PROFILES_JSON"] = json.dumps(layers)
    log = open(run_dir / f"worker-{tag}.log", "w")  # noqa: SIM115 (the worker writes it until it stops)
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
            f"bench-{tag}@%h",
            "-l",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--prefetch-multiplier",
            "1",
        ],
        cwd=ROOT,
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(lambda: " ready." in (run_dir / f"worker-{tag}.log").read_text(), 180, "worker ready")
        warm = submit(*jobs[0])
        _wait(lambda: done([warm]), 300, "warm-up job")
        cpu0, t0 = _cpu_seconds(worker.pid), time.perf_counter()
        with transaction.atomic():  # one burst: every message is published when the whole burst is queued
            ids = [submit(prompt, seed) for prompt, seed in jobs]
        _wait(lambda: done(ids), 120 + 60 * len(ids), "all jobs")
        wall = time.perf_counter() - t0
        cpu = _cpu_seconds(worker.pid) - cpu0
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
    rows = {j.pk: j for j in GenerationJob.objects.filter(pk__in=ids)}
    bad = [j for j in rows.values() if j.status != "succeeded"]
    if bad:
        sys.exit(f"{len(bad)} jobs did not succeed: {bad[0].error} {bad[0].error_detail[:500]}")
    usage = list(UsageRecord.objects.filter(job_id__in=ids))
    calls = {u.batch_id or f"job-{u.pk}": (u.batch_size, u.batch_compute_seconds) for u in usage}
    sizes = sorted((size for size, _ in calls.values()), reverse=True)
    pipeline = sum(c for _, c in calls.values())
    cuda = profile.resolved_device().startswith("cuda")
    busy = 100 * pipeline / wall if cuda else 100 * cpu / (wall * (os.cpu_count() or 1))
    from django.core.files.storage import default_storage

    def read(name: str) -> bytes:
        with default_storage.open(name, "rb") as fh:
            return fh.read()

    waits = [u.queue_seconds for u in usage]
    return {
        "wall": wall,
        "pipeline": pipeline,
        "busy": busy,
        "cpu": cpu,
        "batches": f"{'+'.join(map(str, sizes))} (queue wait median {statistics.median(waits):.2f} s)",
        "mp4": [read(rows[i].video.name) for i in ids],
    }


if __name__ == "__main__":
    main()
