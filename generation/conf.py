"""Model profiles: which local diffusers checkpoint a profile runs, with which pipeline
classes and limits. Read from ``settings.GENERATION_MODEL_PROFILES`` (a dict of partial
overrides merged over the defaults below) — nothing here reaches a model hub.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from generation.errors import ModelProfileError

if TYPE_CHECKING:
    import torch

MODES = ("text_to_video", "image_to_video", "storyboard", "variation", "extension", "loop", "recut")
# Pipeline classes every profile names; "image_to_video" is optional (a profile without it
# offers no image start). Storyboards, loops and re-cuts run these same pipelines.
REQUIRED_PIPELINES = ("text_to_video", "variation", "extension")

# Extension strategy used with a video-to-video pipeline: re-noise the last
# `extension_overlap_frames` of the source followed by a held last frame, and keep the
# newly denoised tail. It runs offline on any Wan checkpoint. SkyReels-V2 diffusion
# forcing needs its own transformer, which the Wan checkpoints do not ship.
EXTENSION_STRATEGY = "v2v-tail"


@dataclass(frozen=True)
class ModelProfile:
    key: str
    model_dir: str
    label: str = ""
    pipelines: dict[str, str] = field(default_factory=dict)
    fps: int = 16
    max_frames: int = 161
    # Orientation-free limits: the long side may be at most max_width, the short side at most max_height.
    max_width: int = 832
    max_height: int = 480
    size_multiple: int = 16
    preview_long_side: int = 128
    steps: int = 4
    max_steps: int = 100
    guidance_scale: float = 5.0
    dtype: str = "float32"
    device: str = "auto"
    queue: str = ""
    max_sequence_length: int = 128
    extension_overlap_frames: int = 9  # 4j+1, so overlap + added (4k) is a valid 4k+1 clip
    estimate_seconds_per_mpx_step: float = 0.5
    default_strength: float = 0.7
    # Randomly initialised weights (the CPU demo): outputs are noise, and the studio says so.
    random_weights: bool = False
    # The image-to-video checkpoint, when it is not model_dir itself (Wan 2.1 ships I2V as
    # its own checkpoint with a CLIP image encoder; Wan 2.2 TI2V does both in one).
    image_model_dir: str = ""
    # Longest result: videos above one clip (max_frames) are chained by extension up to this.
    max_total_seconds: int = 20
    # Strength of the extension that continues a long video or the next storyboard shot.
    chain_strength: float = 0.85
    # Batching (generation/batching.py): up to max_batch compatible jobs run as one
    # pipeline call, bounded by memory: their latent tokens together stay under
    # batch_max_latent_tokens (0: max_batch alone bounds it). 1 turns batching off.
    max_batch: int = 1
    batch_max_latent_tokens: int = 0
    # Opt-in step caching through diffusers' own hooks: {"kind": "first_block",
    # "threshold": 0.05, "psnr_db": …, "ssim": …, "measured": "<where/how>"}. Enabled only
    # with its measured quality figures (check_step_cache refuses it without them).
    step_cache: dict[str, Any] = field(default_factory=dict)
    # CUDA only: regional torch.compile of the transformer's repeated blocks, warmed at
    # worker start for each [width, height, frames] bucket; never on the request path.
    compile: bool = False
    compile_buckets: tuple[tuple[int, int, int], ...] = ()
    attention_backend: str = ""

    def pipeline_dir(self, mode: str) -> str:
        if mode == "image_to_video" and self.image_model_dir:
            return self.image_model_dir
        return self.model_dir

    @property
    def image_to_video(self) -> bool:
        return "image_to_video" in self.pipelines

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def torch_dtype(self) -> torch.dtype:
        import torch

        try:
            return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[self.dtype]
        except KeyError:
            raise ModelProfileError(f"Model profile {self.key!r}: unknown dtype {self.dtype!r}") from None


def _default_profiles() -> dict[str, dict[str, Any]]:
    var = Path(getattr(settings, "VAR_DIR", Path.cwd() / "var"))
    return {
        "wan-tiny": {
            "label": "Wan 2.1 tiny (random weights, CPU demo)",
            "random_weights": True,
            "model_dir": os.environ.get("GENERATION_MODEL_DIR_WAN_TINY") or str(var / "models" / "wan-tiny"),
            "image_model_dir": os.environ.get("GENERATION_MODEL_DIR_WAN_TINY_I2V")
            or str(var / "models" / "wan-tiny-i2v"),
            "pipelines": {
                "text_to_video": "diffusers.WanPipeline",
                "image_to_video": "diffusers.WanImageToVideoPipeline",
                "variation": "diffusers.WanVideoToVideoPipeline",
                "extension": "diffusers.WanVideoToVideoPipeline",
            },
            "fps": 16,
            # The tiny transformer's rope table (rope_max_seq_len 1024, as in the real Wan 2.1)
            # covers 848×480 (53×30 patches) and 161 frames (41 latent frames): 10 s in one clip.
            "max_frames": 161,
            "max_width": 848,
            "max_height": 480,
            "preview_long_side": 128,
            "steps": 4,
            "max_steps": 100,
            "dtype": "float32",
            "device": "auto",
            "queue": "gpu.wan-tiny",
            "max_sequence_length": 64,
            # Chosen on this 2-core CPU: a process running preview batches of 1, 4, 8 and 16
            # peaked under 700 MB RSS (memory does not bind), and 4 already amortises the
            # per-call overhead (bench/results/throughput-cpu.txt); the token bound (four
            # 2 s 480p clips, 14,310 tokens each) keeps batches of big jobs to a small host.
            "max_batch": 4,
            "batch_max_latent_tokens": 4 * 14_310,
        },
        "wan2.1-t2v-1.3b": {
            "label": "Wan 2.1 T2V 1.3B",
            "model_dir": os.environ.get("GENERATION_MODEL_DIR_WAN21_T2V_1_3B")
            or str(var / "models" / "wan2.1-t2v-1.3b"),
            "pipelines": {
                "text_to_video": "diffusers.WanPipeline",
                "variation": "diffusers.WanVideoToVideoPipeline",
                "extension": "diffusers.WanVideoToVideoPipeline",
            },
            "fps": 16,
            "max_frames": 161,
            "max_width": 848,
            "max_height": 480,
            "preview_long_side": 480,
            "steps": 30,
            "max_steps": 100,
            "dtype": "bfloat16",
            "device": "auto",
            "queue": "gpu.wan2.1-t2v-1.3b",
            "max_sequence_length": 512,
            "estimate_seconds_per_mpx_step": 0.1,
            # Not measured on a GPU yet (no device lent to issue 18's session): 4 full 480p
            # clips (4 × 32,760 latent tokens) is a conservative bound for a 1.3B model on
            # an 80+ GiB card; bench/throughput.py on CUDA is what should set it.
            "max_batch": 4,
            "batch_max_latent_tokens": 4 * 32_760,
            "compile": True,
            "compile_buckets": [[480, 272, 33], [832, 480, 81]],
        },
    }


DEFAULT_PROFILE = "wan-tiny"


def _env_profiles() -> dict[str, dict[str, Any]]:
    raw = os.environ.get("GENERATION_MODEL_PROFILES_JSON", "").strip()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ModelProfileError(f"GENERATION_MODEL_PROFILES_JSON is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ModelProfileError("GENERATION_MODEL_PROFILES_JSON must map profile keys to objects")
    return data


def profiles() -> dict[str, dict[str, Any]]:
    """Defaults, then settings.GENERATION_MODEL_PROFILES, then the environment's
    GENERATION_MODEL_PROFILES_JSON (so a worker host can point at its own checkpoint).
    An entry may say ``"extends": "<other key>"`` to start from another profile."""
    merged = _default_profiles()
    for layer in ((getattr(settings, "GENERATION_MODEL_PROFILES", None) or {}), _env_profiles()):
        for key, override in layer.items():
            override = dict(override)
            base = override.pop("extends", None)
            start = merged.get(base, {}) if base else merged.get(key, {})
            if base and base not in merged:
                raise ModelProfileError(f"Model profile {key!r} extends unknown profile {base!r}")
            merged[key] = {**start, **override}
    return merged


def default_profile_key() -> str:
    return getattr(settings, "GENERATION_DEFAULT_PROFILE", DEFAULT_PROFILE)


def check_model_dir(key: str, model_dir: str) -> None:
    """A profile must name an existing absolute local directory. A hub id ("org/name")
    would make diffusers try the network, which workers must never do."""
    path = Path(model_dir)
    if not path.is_absolute():
        raise ModelProfileError(
            f"Model profile {key!r}: model_dir {model_dir!r} is not an absolute local directory. "
            "Hub ids are not allowed (workers run offline); download the checkpoint onto the "
            "worker host and point model_dir (or GENERATION_MODEL_DIR_*) at that folder."
        )
    if not path.is_dir():
        raise ModelProfileError(
            f"Model profile {key!r}: model_dir {model_dir!r} does not exist. "
            "For the tiny demo model run `python manage.py build_tiny_model`."
        )


def get_profile(key: str | None = None, *, check_dir: bool = True) -> ModelProfile:
    key = key or default_profile_key()
    data = profiles().get(key)
    if data is None:
        raise ModelProfileError(f"Unknown model profile {key!r}; known: {', '.join(sorted(profiles()))}")
    if "model_dir" not in data:
        raise ModelProfileError(f"Model profile {key!r} has no model_dir")
    data = dict(data)
    data["model_dir"] = str(data["model_dir"])
    data.setdefault("queue", f"gpu.{key}")
    known = set(ModelProfile.__dataclass_fields__) - {"key"}
    unknown = set(data) - known
    if unknown:
        raise ModelProfileError(f"Model profile {key!r}: unknown option(s) {', '.join(sorted(unknown))}")
    if "compile_buckets" in data:
        data["compile_buckets"] = tuple(tuple(int(v) for v in b) for b in data["compile_buckets"])
    profile = ModelProfile(key=key, **data)
    check_step_cache(profile)
    if profile.max_batch < 1:
        raise ModelProfileError(f"Model profile {key!r}: max_batch must be at least 1")
    missing = [m for m in REQUIRED_PIPELINES if m not in profile.pipelines]
    if missing:
        raise ModelProfileError(f"Model profile {key!r}: no pipeline class for {', '.join(missing)}")
    if check_dir:
        check_model_dir(key, profile.model_dir)  # the image checkpoint is checked when it is loaded
    return profile


STEP_CACHE_KINDS = ("first_block",)
# What a step cache must show against the uncached output on its fixed prompt set before a
# profile may enable it (issue 18's gate; bench/throughput.py measures it).
STEP_CACHE_MIN_PSNR_DB = 30.0
STEP_CACHE_MIN_SSIM = 0.9


def check_step_cache(profile: ModelProfile) -> None:
    """A profile enables step caching only together with its measured quality: PSNR (dB)
    and SSIM against the uncached output, and where they were measured, within the gate."""
    cache = profile.step_cache
    if not cache:
        return
    where = f"Model profile {profile.key!r}: step_cache"
    if cache.get("kind") not in STEP_CACHE_KINDS:
        raise ModelProfileError(f"{where} kind must be one of {', '.join(STEP_CACHE_KINDS)}")
    try:
        psnr, ssim = float(cache["psnr_db"]), float(cache["ssim"])
    except (KeyError, TypeError, ValueError):
        raise ModelProfileError(
            f"{where} is enabled without its measured figures (psnr_db, ssim and measured: "
            "run bench/throughput.py --cache and record them)"
        ) from None
    if not str(cache.get("measured") or "").strip():
        raise ModelProfileError(f"{where} must say where its figures were measured (measured)")
    if psnr < STEP_CACHE_MIN_PSNR_DB or ssim < STEP_CACHE_MIN_SSIM:
        raise ModelProfileError(
            f"{where} measured {psnr:.1f} dB / SSIM {ssim:.3f}, below the gate "
            f"({STEP_CACHE_MIN_PSNR_DB:.0f} dB, {STEP_CACHE_MIN_SSIM})"
        )


def latent_tokens(*, width: int, height: int, frames: int) -> int:
    """Transformer tokens of one Wan clip (VAE 4× in time, 8× in space; patches 1×2×2):
    what a job's activations scale with, so what bounds a batch."""
    return ((frames - 1) // 4 + 1) * max(1, height // 16) * max(1, width // 16)


def batch_limit(profile: ModelProfile, *, width: int, height: int, frames: int) -> int:
    """How many jobs of this shape one pipeline call may carry on this profile."""
    limit = max(1, profile.max_batch)
    if profile.batch_max_latent_tokens > 0:
        limit = min(
            limit, max(1, profile.batch_max_latent_tokens // latent_tokens(width=width, height=height, frames=frames))
        )
    return limit


def profile_queues() -> list[str]:
    return sorted({get_profile(k, check_dir=False).queue for k in profiles()})


def _seconds(name: str, default: float, *, environ: bool = True) -> float:
    """A duration setting: the environment (for worker processes a test starts) wins over
    Django's settings, which win over the default."""
    raw: Any = (os.environ.get(name) if environ else None) or getattr(settings, name, default)
    return float(raw)


def heartbeat_seconds() -> float:
    return _seconds("GENERATION_HEARTBEAT_SECONDS", 10)


def lost_after_seconds() -> float:
    return _seconds("GENERATION_LOST_AFTER_SECONDS", 45)


def progress_interval_seconds() -> float:
    return _seconds("GENERATION_PROGRESS_INTERVAL_SECONDS", 0.5)


def redispatch_grace_seconds() -> float:
    """How long a queued job may wait for its first publish before the sweep sends it."""
    return _seconds("GENERATION_REDISPATCH_GRACE_SECONDS", 10)


def redispatch_lost_message_seconds() -> float:
    """A queued job published this long ago and still unclaimed is published again (a
    broker that lost its messages); duplicates are harmless, so this only bounds noise."""
    return _seconds("GENERATION_REDISPATCH_AFTER_SECONDS", 900)


def fair_share_seconds() -> float:
    """How far back a claim counts the jobs each artist was already served (fair order)."""
    return _seconds("GENERATION_FAIR_SHARE_SECONDS", 600)


def drain_batches() -> int:
    """How many batches one delivery may run back to back before it is acknowledged."""
    return max(1, int(_seconds("GENERATION_DRAIN_BATCHES", 8)))


def requeue_lost_jobs() -> bool:
    return bool(getattr(settings, "GENERATION_REQUEUE_LOST_JOBS", False))
