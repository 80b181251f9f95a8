"""Generation on a GPU at the real model's size: the platform path against bare calls.

Builds a random-weight Wan 2.1 T2V checkpoint with the FULL 1.3B transformer (30 layers,
12 heads x 128, ffn 8960, text_dim 4096: diffusers' config of Wan-AI/Wan2.1-T2V-1.3B-Diffusers),
the full-size Wan VAE (AutoencoderKLWan defaults), a UMT5 text encoder of the real width
(d_model 4096, d_ff 10240, 64 heads, vocab 256384) but only --te-layers of its 24 layers, a
byte-level tokenizer made locally, and the UniPC flow scheduler (flow_shift 3.0) the real
checkpoint ships. It is written with save_pretrained into a local folder and the
"wan2.1-t2v-1.3b" profile is pointed at it through GENERATION_MODEL_DIR_WAN21_T2V_1_3B and
GENERATION_MODEL_PROFILES_JSON, so the platform loads it as it loads the real model. Then:

  (a) platform: jobs submitted through generation.services.job_submit, run by a real Celery
      worker subprocess (filesystem broker, SQLite in a temp folder), encode + sign + store;
  (b) bare: generation.pipelines.run (the diffusers pipeline, warm, in this process) + MP4
      export, as in bench/generation_overhead.py;

each after one warm-up job, and prints seconds per job and per denoising step, the ratio of
throughputs a/b, the median platform overhead per job, peak GPU memory and the GPU name.

    python3 bench/cuda_generation.py [--steps 8] [--n 3] [--budget 430]   # GPU, bf16, 832x480x81
    .venv/bin/python bench/cuda_generation.py --small                     # same code, tiny, CPU
    bash bench/cuda_device.sh                 # on the offline GPU host: install .whl, preflight, run

The 480p preset gives 848x480; the jobs are made with it and then set to --width/--height/--frames
(Wan's native 832x480x81) before job_submit. Each path's warm-up job is full size with
--warm-steps steps. Bare per-step times come from a CUDA sync in the step callback.
Random weights: the figures are about speed and memory, never about the pictures. Not run
by tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generation_overhead import _all_done, _done, _stop_worker, _wait  # noqa: E402  (stdlib-only)

PROFILE_KEY = "wan2.1-t2v-1.3b"
PROMPT = "a lighthouse at dusk, waves breaking on the rocks, slow dolly in"
T0 = time.perf_counter()

# diffusers' WanTransformer3DModel config of Wan-AI/Wan2.1-T2V-1.3B-Diffusers.
WAN21_1_3B_TRANSFORMER = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=12,
    attention_head_dim=128,
    in_channels=16,
    out_channels=16,
    text_dim=4096,
    freq_dim=256,
    ffn_dim=8960,
    num_layers=30,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    eps=1e-6,
    image_dim=None,
    added_kv_proj_dim=None,
    rope_max_seq_len=1024,
)
# google/umt5-xxl encoder (what Wan 2.1 uses); num_layers is set by --te-layers.
UMT5_XXL = dict(
    vocab_size=256384,
    d_model=4096,
    d_kv=64,
    d_ff=10240,
    num_heads=64,
    num_layers=24,
    relative_attention_num_buckets=32,
    relative_attention_max_distance=128,
    feed_forward_proj="gated-gelu",
    layer_norm_epsilon=1e-6,
    tie_word_embeddings=False,
)
SMALL_TRANSFORMER = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=2,
    attention_head_dim=12,
    in_channels=16,
    out_channels=16,
    text_dim=32,
    freq_dim=256,
    ffn_dim=32,
    num_layers=2,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    eps=1e-6,
    rope_max_seq_len=32,
)
SMALL_UMT5 = dict(
    vocab_size=384,
    d_model=32,
    d_kv=8,
    d_ff=37,
    num_heads=4,
    num_layers=2,
    feed_forward_proj="gated-gelu",
    tie_word_embeddings=False,
)
SMALL_VAE = dict(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])


def say(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:6.1f}s] {msg}", flush=True)


def left(args) -> float:
    return args.budget - (time.perf_counter() - T0)


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def _med(xs) -> float:
    return statistics.median(xs) if xs else float("nan")


def _umt5_layer_params(cfg: dict) -> int:
    inner = cfg["d_kv"] * cfg["num_heads"]
    attn = 4 * cfg["d_model"] * inner + cfg["relative_attention_num_buckets"] * cfg["num_heads"]
    ffn = 3 * cfg["d_model"] * cfg["d_ff"]  # gated: wi_0, wi_1, wo
    return attn + ffn + 2 * cfg["d_model"]


# ---- the checkpoint ----------------------------------------------------------------------------
def build_checkpoint(directory: Path, *, small: bool, te_layers: int, device: str, dtype) -> dict:
    """Random weights made on ``device`` (CUDA when the bench runs there), cast to ``dtype``,
    written with save_pretrained. Returns facts to print."""
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from transformers import ByT5Tokenizer, UMT5Config, UMT5EncoderModel

    te_cfg = dict(SMALL_UMT5) if small else {**UMT5_XXL, "num_layers": te_layers}
    tr_cfg = SMALL_TRANSFORMER if small else WAN21_1_3B_TRANSFORMER
    vae_cfg = SMALL_VAE if small else {}

    def make(on: str):
        # Casting the whole model is fine here: from_pretrained(dtype=...) puts the modules the
        # model keeps in float32 (rope, norms, time embedder) back in float32 when it loads.
        with torch.device(on):
            torch.manual_seed(0)
            transformer = WanTransformer3DModel(**tr_cfg).to(dtype)
            torch.manual_seed(0)
            vae = AutoencoderKLWan(**vae_cfg).to(dtype)
            torch.manual_seed(0)
            text_encoder = UMT5EncoderModel(UMT5Config(**te_cfg)).to(dtype)
        if on.startswith("cuda"):
            torch.cuda.synchronize()
        return transformer, vae, text_encoder

    t = time.perf_counter()
    try:
        transformer, vae, text_encoder = make(device)
    except Exception as exc:  # building on the GPU is only a speed-up
        if device == "cpu":
            raise
        say(f"building on {device} failed ({type(exc).__name__}: {exc}); building on the CPU instead")
        gc.collect()
        torch.cuda.empty_cache()
        transformer, vae, text_encoder = make("cpu")
    init_s = time.perf_counter() - t
    # Wan 2.1's own scheduler: UniPC on flow sigmas, shift 3.0 for 480p.
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=3.0
    )
    tokenizer = ByT5Tokenizer()  # built locally: no hub; 384 ids, all inside the encoder's vocabulary
    pipe = WanPipeline(
        transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer
    )
    n_params = {
        name: sum(p.numel() for p in m.parameters())
        for name, m in (("transformer", transformer), ("vae", vae), ("text_encoder", text_encoder))
    }
    t = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(str(directory))
    save_s = time.perf_counter() - t
    del pipe, transformer, vae, text_encoder
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    missing = 0 if small else (UMT5_XXL["num_layers"] - te_layers) * _umt5_layer_params(UMT5_XXL)
    return {"init_s": init_s, "save_s": save_s, "bytes": size, "params": n_params, "te_missing_params": missing}


# ---- platform path helpers --------------------------------------------------------------------
def _make_submitter(args):
    """An enrolled artist with consent signed; submit(kind) goes through the engine service.
    Made as tests/factories.py makes them, without factory_boy/Faker (not carried to the GPU host)."""
    from django.utils import timezone

    from generation.services import Budget, build_params, job_submit
    from tester_platform.accounts.models import User
    from tester_platform.accounts.roles import ARTIST
    from tester_platform.accounts.services import user_grant_role
    from tester_platform.consent.models import ConsentDocument
    from tester_platform.consent.services import consent_sign
    from tester_platform.programs.models import Enrollment, Program

    program = Program(slug="cuda-bench", name="CUDA bench", status=Program.Status.ACTIVE, description="GPU benchmark")
    for field, value in (("max_concurrent_jobs", 10_000), ("daily_compute_seconds", 10_000_000)):
        if hasattr(program, field):
            setattr(program, field, value)
    program.save()
    ConsentDocument.objects.create(
        program=program,
        version=1,
        title="Consent v1",
        body="# Consent v1\n\nI agree to test the model.",
        published_at=timezone.now(),
    )
    artist = User(email="cuda-bench@example.test", display_name="Bench artist")
    artist.set_password("correct-horse-battery-staple")
    artist.save()
    user_grant_role(user=artist, role=ARTIST)
    enrollment = Enrollment.objects.create(artist=artist, program=program, status=Enrollment.Status.ACTIVE)
    consent = consent_sign(
        artist=artist,
        program=program,
        document_version=1,
        participation=True,
        training_use=False,
        marketing_use=False,
        ip_address="127.0.0.1",
        user_agent="bench",
    )

    def params(kind: str, seed: int, steps: int):
        if kind == "preview":  # the platform's own preview preset (2 s)
            return build_params(
                mode="text_to_video",
                prompt=PROMPT,
                duration_seconds=2,
                aspect_ratio="16:9",
                resolution="preview",
                seed=seed,
                steps=steps,
                profile_key=PROFILE_KEY,
            )
        # 480p preset, then the exact bench size (the 480p box gives 848x480; Wan's native is 832x480)
        p = build_params(
            mode="text_to_video",
            prompt=PROMPT,
            duration_seconds=2,
            aspect_ratio="16:9",
            resolution="480p",
            seed=seed,
            steps=steps,
            profile_key=PROFILE_KEY,
        )
        return dataclasses.replace(
            p, width=args.width, height=args.height, num_frames=args.frames, duration_seconds=(args.frames - 1) / p.fps
        )

    def submit(kind: str, seed: int, steps: int) -> int:
        return job_submit(
            artist=artist,
            program_id=program.pk,
            enrollment_id=enrollment.pk,
            consent_record_id=consent.pk,
            training_use=False,
            params=params(kind, seed, steps),
            budget=Budget(10_000, 1e9, 1.0),
            artist_pseudonym="bench",
            consent_version=1,
            program_ref="cuda-bench",
        ).pk

    return submit, params


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def platform_path(args, run_dir: Path, env: dict, submit, queue: str) -> dict:
    from generation.models import GenerationJob, UsageRecord

    out: dict = {}
    log_path = run_dir / "worker.log"
    log = open(log_path, "w")  # noqa: SIM115 (the child process's log, open while it runs)
    t_start = time.perf_counter()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tester_platform",
            "worker",
            "-Q",
            queue,
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

    def check(ids):
        jobs = list(GenerationJob.objects.filter(pk__in=ids).order_by("finished_at"))
        bad = [j for j in jobs if j.status != "succeeded"]
        if bad:
            raise SystemExit(
                f"(a) {len(bad)} job(s) did not succeed: {bad[0].error}\n{bad[0].error_detail[:1500]}\n"
                f"--- worker.log tail ---\n{_tail(log_path)}"
            )
        return jobs

    def wait_alive(pred, timeout, what):
        def ok():
            if worker.poll() is not None:
                raise SystemExit(f"worker exited ({worker.returncode}) waiting for {what}\n{_tail(log_path)}")
            return pred()

        _wait(ok, timeout, what, interval=0.1)

    try:
        wait_alive(lambda: " ready." in log_path.read_text(errors="replace"), 180, "worker ready")
        out["ready_s"] = time.perf_counter() - t_start
        say(f"(a) worker ready after {out['ready_s']:.1f} s (it now preloads the pipelines)")
        warm = submit("main", 0, args.warm_steps)
        wait_alive(lambda: _done(warm), 600, "warm-up job")
        check([warm])
        out["first_job_s"] = time.perf_counter() - t_start
        warm_usage = UsageRecord.objects.get(job_id=warm)
        say(
            f"(a) warm-up job ({args.warm_steps} steps) done {out['first_job_s']:.1f} s after worker start "
            f"(its pipeline {warm_usage.compute_seconds:.1f} s)"
        )

        t0 = time.perf_counter()
        submitted_at = time.time()
        ids = [submit("main", 1 + i, args.steps) for i in range(args.n)]
        out["submit_ms"] = (time.perf_counter() - t0) * 1000 / args.n
        wait_alive(lambda: _all_done(ids), 120 + 300 * args.n, "all jobs")
        out["total"] = time.perf_counter() - t0
        jobs = check(ids)
        usage = {u.job_id: u for u in UsageRecord.objects.filter(job_id__in=ids)}
        out["jobs"] = jobs
        out["usage"] = [usage[j.pk] for j in jobs]
        out["submitted_at"] = submitted_at
        say(
            f"(a) {args.n} jobs in {out['total']:.1f} s; pipeline "
            + ", ".join(f"{u.compute_seconds:.2f}" for u in out["usage"])
            + " s"
        )

        # previews only if (b) still fits afterwards: it needs about what (a) needed up to here
        need_b = out["first_job_s"] + out["total"] + 10
        if args.preview_n and left(args) > need_b + args.preview_reserve:
            pids = [submit("preview", 100 + i, args.steps) for i in range(args.preview_n)]
            wait_alive(lambda: _all_done(pids), 60 + 120 * args.preview_n, "preview jobs")
            pjobs = check(pids)
            pusage = {u.job_id: u for u in UsageRecord.objects.filter(job_id__in=pids)}
            out["preview"] = [(j, pusage[j.pk]) for j in pjobs]
            last_j, last_u = out["preview"][-1]
            say(
                f"(a) preview {last_j.width}x{last_j.height}x{last_j.num_frames}: last job pipeline "
                f"{last_u.compute_seconds:.2f} s, claim->done {last_u.wall_seconds:.2f} s"
            )
        elif args.preview_n:
            say("(a) preview skipped: time budget")
    finally:
        _stop_worker(worker, log)
        say(f"(a) worker stopped (exit {worker.returncode})")
    return out


def bare_path(args, profile, n: int, job0) -> dict:
    import torch

    from generation import media, pipelines

    cuda = profile.resolved_device().startswith("cuda")
    out: dict = {"n": n}
    t = time.perf_counter()
    pipe = pipelines.get_pipeline(profile, "text_to_video")
    if cuda:
        torch.cuda.synchronize()
    out["load_s"] = time.perf_counter() - t
    say(f"(b) pipeline loaded in {out['load_s']:.1f} s")

    kwargs = dict(
        profile=profile,
        mode="text_to_video",
        prompt=job0.prompt,
        negative_prompt=job0.negative_prompt,
        seed=job0.seed,
        width=job0.width,
        height=job0.height,
        num_frames=job0.num_frames,
    )
    t = time.perf_counter()
    pipelines.run(**kwargs, steps=args.warm_steps)
    say(f"(b) warm-up ({args.warm_steps} steps) {time.perf_counter() - t:.1f} s")

    stamps: list[float] = []

    def on_step(done: int, total: int) -> bool:  # one sync per step: exact step times, ~no cost
        if cuda:
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        return False

    encode_s, compute, step_s, first_step_s, tail_s, peaks, nan_runs = [], [], [], [], [], [], 0
    t0 = time.perf_counter()
    for i in range(n):
        stamps.clear()
        call = time.perf_counter()
        result = pipelines.run(**{**kwargs, "seed": job0.seed + i}, steps=args.steps, on_step=on_step)
        end = time.perf_counter()
        e0 = time.perf_counter()
        media.encode_mp4(result.frames, fps=profile.fps)
        encode_s.append(time.perf_counter() - e0)
        compute.append(result.compute_seconds)
        peaks.append(result.peak_memory_bytes)
        step_s += [b - a for a, b in pairwise(stamps)]
        first_step_s.append(stamps[0] - call)
        tail_s.append(end - stamps[-1])
        nan_runs += int(result.frames.max() == 0)
    out["total"] = time.perf_counter() - t0
    out.update(
        encode=encode_s,
        compute=compute,
        step_s=step_s,
        first_step_s=first_step_s,
        tail_s=tail_s,
        peak=max(peaks),
        all_black_runs=nan_runs,
    )
    say(f"(b) {n} jobs in {out['total']:.1f} s; pipeline " + ", ".join(f"{c:.2f}" for c in compute) + " s")

    # Text encoding alone (CFG: prompt + negative, 512 tokens), to scale to the full 24-layer encoder.
    try:
        te = []
        for _ in range(3):
            if cuda:
                torch.cuda.synchronize()
            t = time.perf_counter()
            with torch.inference_mode():
                pipe.encode_prompt(
                    prompt=PROMPT,
                    negative_prompt="",
                    do_classifier_free_guidance=True,
                    max_sequence_length=profile.max_sequence_length,
                    device=pipe.device,
                )
            if cuda:
                torch.cuda.synchronize()
            te.append(time.perf_counter() - t)
        out["te_s"] = min(te)
    except Exception as exc:  # only an estimate
        say(f"(b) text-encoder timing skipped: {type(exc).__name__}: {exc}")

    if args.preview_n and left(args) > args.preview_reserve / 2:
        pj = args.preview_params
        pk = dict(kwargs, width=pj.width, height=pj.height, num_frames=pj.num_frames)
        times = []
        for i in range(args.preview_n):
            stamps.clear()
            r = pipelines.run(**{**pk, "seed": 100 + i}, steps=args.steps, on_step=on_step)
            e0 = time.perf_counter()
            media.encode_mp4(r.frames, fps=profile.fps)
            times.append((r.compute_seconds, time.perf_counter() - e0, r.peak_memory_bytes))
        out["preview"] = (pj, times)
        c, e, _ = times[-1]
        say(f"(b) preview {pj.width}x{pj.height}x{pj.num_frames}: last pipeline {c:.2f} s + encode {e:.2f} s")
    return out


# ---- main -------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="tiny architecture and size, CPU float32: checks the code")
    ap.add_argument("--device", default=None, help="cuda (default) or cpu (default with --small)")
    ap.add_argument("--dtype", default=None, choices=("bfloat16", "float16", "float32"))
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--height", type=int, default=None)
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None, help="denoising steps per timed job (default 8)")
    ap.add_argument("--warm-steps", type=int, default=2, help="steps of each path's warm-up job (same size)")
    ap.add_argument("--n", type=int, default=None, help="timed jobs per path (default 3)")
    ap.add_argument(
        "--preview-n", type=int, default=2, help="preview-size jobs per path, the last is reported; 0: none"
    )
    ap.add_argument("--te-layers", type=int, default=2, help="UMT5 layers (the real encoder has 24)")
    ap.add_argument(
        "--budget",
        type=float,
        default=430.0,
        help="seconds for the whole run: (b) runs fewer jobs and previews are dropped to stay inside",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (checkpoint included)")
    args = ap.parse_args()
    s = args.small
    args.device = args.device or ("cpu" if s else "cuda")
    args.dtype = args.dtype or ("float32" if s else "bfloat16")
    args.width = args.width or (112 if s else 832)
    args.height = args.height or (64 if s else 480)
    args.frames = args.frames or (9 if s else 81)
    args.steps = args.steps or (3 if s else 8)
    args.n = args.n or (2 if s else 3)
    args.preview_reserve = 15.0 if s else 45.0
    if args.n < 1 or args.steps < 2 or args.warm_steps < 1 or (args.frames - 1) % 4:
        sys.exit("--n >= 1, --steps >= 2, --warm-steps >= 1 and --frames = 4k+1 please")

    # `timeout` sends SIGTERM: leave through the finally blocks (stop the worker, print what we have).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM: out of time"))

    run_dir = Path(tempfile.mkdtemp(prefix="atelier-cuda-bench-"))
    model_dir = run_dir / "models" / "wan21-t2v-1.3b-random"
    overrides = {"device": args.device, "dtype": args.dtype}
    if s:
        overrides["preview_long_side"] = 64
    env = {
        "ATELIER_VAR_DIR": str(run_dir),
        "DATABASE_URL": f"sqlite:///{run_dir / 'bench.sqlite3'}",
        "ATELIER_BROKER_FOLDER": str(run_dir / "broker"),
        "CELERY_BROKER_URL": "filesystem://",
        "DJANGO_SETTINGS_MODULE": "tester_platform.settings",
        "GENERATION_MODEL_DIR_WAN21_T2V_1_3B": str(model_dir),
        "GENERATION_MODEL_PROFILES_JSON": json.dumps({PROFILE_KEY: overrides}),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    os.environ.update(env)

    import diffusers
    import torch
    import transformers

    # Compact log: no progress bars, no "should be kept in float32" notes (see build_checkpoint).
    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()

    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("--device cuda but torch sees no CUDA device")
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[args.dtype]
    gpu = torch.cuda.get_device_name(0) if cuda else "cpu"
    print(f"== cuda_generation  {'SMALL (tiny architecture, code check only)' if s else 'full Wan 2.1 1.3B size'}")
    print(
        f"device {args.device} ({gpu})  dtype {args.dtype}  python {platform.python_version()}"
        f"  torch {torch.__version__}"
        f" (cuda {torch.version.cuda})  diffusers {diffusers.__version__}  transformers {transformers.__version__}"
        f"  cpu threads {torch.get_num_threads()}"
    )

    try:
        say(f"building random-weight checkpoint in {model_dir} ...")
        facts = build_checkpoint(model_dir, small=s, te_layers=args.te_layers, device=args.device, dtype=dtype)
        p = facts["params"]
        say(
            f"built: init {facts['init_s']:.1f} s, save {facts['save_s']:.1f} s, "
            f"{_gib(facts['bytes'])} on disk; params " + ", ".join(f"{k} {v / 1e6:.1f}M" for k, v in p.items())
        )
        if not s:
            print(
                f"NOTE text encoder: UMT5-XXL width (d_model 4096, 64 heads, d_ff 10240, vocab 256384) but only "
                f"{args.te_layers} of 24 layers: the real one has {facts['te_missing_params'] / 1e9:.2f}B more "
                f"parameters (~{_gib(facts['te_missing_params'] * 2)} bf16) not in the memory figures below; "
                f"tokenizer is ByT5 (bytes), not UMT5's SentencePiece"
            )

        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from generation.conf import get_profile

        profile = get_profile(PROFILE_KEY)
        submit, params = _make_submitter(args)
        job0 = params("main", 1, args.steps)
        args.preview_params = params("preview", 100, args.steps)
        tokens = ((job0.num_frames - 1) // 4 + 1) * (job0.height // 16) * (job0.width // 16)
        print(
            f"profile {profile.key}: {profile.model_dir} device={profile.device} dtype={profile.dtype} "
            f"queue={profile.queue} guidance={profile.guidance_scale} max_seq_len={profile.max_sequence_length}"
        )
        print(
            f"job: {job0.width}x{job0.height}x{job0.num_frames} frames @ {job0.fps} fps, {args.steps} steps "
            f"(warm-up {args.warm_steps}), N={args.n}, {tokens} video tokens/forward, CFG on (2 forwards/step); "
            f"preview {args.preview_params.width}x{args.preview_params.height}x{args.preview_params.num_frames}"
        )

        # ---- (a) ----
        a = platform_path(args, run_dir, env, submit, profile.queue)

        # ---- (b) ----
        # (b) needs about what (a) needed from worker start to its warm-up job done, plus its jobs.
        per_job_a = a["total"] / args.n
        n_b = args.n
        while n_b > 1 and a["first_job_s"] + per_job_a * n_b + 10 > left(args):
            n_b -= 1
        if n_b < args.n:
            say(f"(b) running {n_b} timed jobs instead of {args.n} to stay inside --budget {args.budget:.0f} s")
        b = bare_path(args, profile, n_b, job0)
        report(args, a, b, gpu, facts, job0, tokens)
    finally:
        out_dir = os.environ.get("OUT")  # the GPU host's folder that comes back: keep the worker's log
        if out_dir and (run_dir / "worker.log").is_file():
            import shutil

            shutil.copy(run_dir / "worker.log", Path(out_dir) / "cuda_generation_worker.log")
        if args.keep:
            print(f"kept: {run_dir}")
        else:
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)


def report(args, a: dict, b: dict, gpu: str, facts: dict, job0, tokens: int) -> None:
    jobs, usage = a["jobs"], a["usage"]
    compute_a = [u.compute_seconds for u in usage]
    enc_med = _med(b["encode"])
    cycles = [(y.finished_at - x.finished_at).total_seconds() for x, y in pairwise(jobs)]
    overhead = [c - u.compute_seconds - enc_med for c, u in zip(cycles, usage[1:], strict=True)]
    first_overhead = (jobs[0].finished_at.timestamp() - a["submitted_at"]) - compute_a[0] - enc_med
    in_worker = [u.wall_seconds - u.compute_seconds for u in usage]
    thr_a, thr_b = args.n / a["total"], b["n"] / b["total"]
    step = _med(b["step_s"])
    peak_a = max(u.peak_memory_bytes for u in usage)
    print()
    print(
        f"=== RESULT  {gpu}  {args.dtype}  {job0.width}x{job0.height}x{job0.num_frames}  {args.steps} steps  "
        f"({tokens} tokens)  {'SMALL' if args.small else 'Wan2.1-1.3B size'}"
    )
    print(
        f"(a) platform : {a['total'] / args.n:7.2f} s/job  ({args.n} jobs {a['total']:.1f} s, "
        f"{thr_a * 3600:.1f} jobs/h)"
        f"  pipeline median {_med(compute_a):.2f} s  submit {a['submit_ms']:.1f} ms/job"
    )
    print(
        f"(b) bare     : {b['total'] / b['n']:7.2f} s/job  ({b['n']} jobs {b['total']:.1f} s, "
        f"{thr_b * 3600:.1f} jobs/h)"
        f"  pipeline median {_med(b['compute']):.2f} s  mp4 encode {enc_med:.2f} s"
    )
    print(f"ratio a/b    : {thr_a / thr_b:.3f}  (throughput)")
    print(
        f"per step     : {step:.3f} s/step median (b, {len(b['step_s'])} steps, 2 transformer forwards each); "
        f"step 1 + text enc {_med(b['first_step_s']):.2f} s; after last step (VAE decode + to numpy) "
        f"{_med(b['tail_s']):.2f} s"
    )
    if a["jobs"]:
        est_step_a = (_med(compute_a) - _med(b["first_step_s"]) - _med(b["tail_s"])) / max(1, args.steps - 1)
        print(f"             : (a) implied {est_step_a:.3f} s/step (its pipeline minus (b)'s first step and decode)")
    if overhead:
        print(
            f"overhead     : median {_med(overhead):.2f} s/job between finishes beyond pipeline + encode "
            f"(max {max(overhead):.2f}); first job incl. submit + delivery {first_overhead:.2f} s"
        )
    print(
        f"in worker    : claim->done minus pipeline median {_med(in_worker):.2f} s "
        f"(encode + poster + C2PA sign + store + progress writes)"
    )
    print(
        f"peak GPU mem : (b) {_gib(b['peak'])}  (a) {_gib(peak_a)}  torch.cuda.max_memory_allocated per job"
        if args.device != "cpu"
        else f"peak RSS     : (b) {_gib(b['peak'])}  (a) {_gib(peak_a)}"
    )
    if not args.small:
        extra = facts["te_missing_params"] * 2
        print(
            f"             : + ~{_gib(extra)} for the 22 UMT5 layers left out"
            f" -> ~{_gib(max(b['peak'], peak_a) + extra)}"
            f" with the full text encoder resident"
        )
    if "te_s" in b:
        scale = 24 / args.te_layers if not args.small else 1
        print(
            f"text encoder : {b['te_s']:.3f} s for prompt+negative with {args.te_layers} layers"
            + (
                f" -> ~{b['te_s'] * scale:.2f} s/job with 24 layers (not in the figures above)"
                if not args.small
                else ""
            )
        )
    print(
        f"startup      : worker ready {a['ready_s']:.1f} s, first (warm-up) job done {a['first_job_s']:.1f} s after "
        f"start; (b) load {b['load_s']:.1f} s; build {facts['init_s']:.1f}+{facts['save_s']:.1f} s, "
        f"{_gib(facts['bytes'])}"
    )
    if "preview" in a and "preview" in b:
        pj, u = a["preview"][-1]
        _, times = b["preview"]
        c, e, _ = times[-1]
        print(
            f"preview      : {pj.width}x{pj.height}x{pj.num_frames} (a) pipeline {u.compute_seconds:.2f} s, "
            f"claim->done {u.wall_seconds:.2f} s | (b) pipeline {c:.2f} s + encode {e:.2f} s"
        )
    if b["all_black_runs"]:
        print(f"note         : {b['all_black_runs']} bare run(s) came out all black (random weights; speed unaffected)")
    print(f"total run    : {time.perf_counter() - T0:.0f} s")


if __name__ == "__main__":
    main()
