"""Diffusers pipelines: loaded once per worker process, kept warm, run with a per-step
callback for progress and cancellation.

Importing diffusers costs seconds and loading weights more: never per job. Everything
is loaded from a local directory with HF_HUB_OFFLINE=1, the same path for the tiny demo
checkpoint and a real one.
"""

from __future__ import annotations

import importlib
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

import numpy as np

from generation.conf import ModelProfile, check_model_dir
from generation.errors import ModelProfileError


class Pipeline(Protocol):
    """What this module uses of a diffusers pipeline. diffusers is not type-checked (its
    pipelines are loaded dynamically, from_pretrained / from_pipe), so this is the contract
    the engine relies on, not something mypy can verify against diffusers."""

    transformer: Any  # a diffusers model: enable_cache, compile_repeated_blocks, set_attention_backend

    def __call__(self, **kwargs: Any) -> Any: ...

    def to(self, device: str) -> Any: ...

    def set_progress_bar_config(self, **kwargs: Any) -> None: ...

    @classmethod
    def from_pretrained(cls, directory: str, **kwargs: Any) -> Pipeline: ...

    @classmethod
    def from_pipe(cls, pipe: Pipeline, **kwargs: Any) -> Pipeline: ...


class DeviceInfo(TypedDict):
    """The accelerator a worker registers with (services.worker_register)."""

    device: str
    device_name: str
    torch_version: str
    cuda_version: str
    memory_bytes: int


class CompileReport(TypedDict):
    """What the warm-up compile did (workers._warm_up logs it and records the seconds)."""

    compiled: bool
    seconds: float | None
    note: str


_cache: dict[tuple[str, str, str], Pipeline] = {}
_cache_lock = threading.RLock()


class Cancelled(Exception):
    """Raised from the step callback so the pipeline stops at once (setting
    ``_interrupt`` alone skips the remaining steps but still runs the VAE decode)."""

    def __init__(self, steps_done: int):
        super().__init__(f"cancelled after {steps_done} steps")
        self.steps_done = steps_done


class ModelLoadError(RuntimeError):
    pass


def offline() -> None:
    """Workers never reach a model hub. huggingface_hub reads HF_HUB_OFFLINE when it is
    first imported, so set it before diffusers is imported, and patch it if it already is."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]  # huggingface_hub's constant, not in ModuleType


offline()  # importing this module means we are about to load pipelines


def _import_class(dotted: str) -> type[Pipeline]:
    module, _, name = dotted.rpartition(".")
    try:
        cls: type[Pipeline] = getattr(importlib.import_module(module or "diffusers"), name)
        return cls
    except (ImportError, AttributeError) as exc:
        raise ModelProfileError(f"Pipeline class {dotted!r} cannot be imported: {exc}") from exc


def get_pipeline(profile: ModelProfile, mode: str) -> Pipeline:
    """The warm pipeline for (profile, mode). Modes whose classes share a checkpoint share
    its weights (``from_pipe``). Failures are not cached: a fixed directory loads next time."""
    directory = profile.pipeline_dir(mode)
    key = (profile.key, directory, mode)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        offline()
        if mode not in profile.pipelines:
            raise ModelProfileError(f"Model profile {profile.key!r} has no pipeline for {mode}")
        check_model_dir(profile.key, directory)
        cls = _import_class(profile.pipelines[mode])
        base = next((p for (k, d, _), p in _cache.items() if k == profile.key and d == directory), None)
        try:
            if base is not None:
                # from_pipe casts the shared modules to its dtype argument, float32 when
                # omitted: without it, loading the variation pipeline would silently turn a
                # bf16 text-to-video pipeline into float32 (8x slower on an H200).
                pipe = base if type(base) is cls else cls.from_pipe(base, dtype=profile.torch_dtype())
            else:
                pipe = cls.from_pretrained(directory, dtype=profile.torch_dtype(), local_files_only=True)
                pipe.to(profile.resolved_device())
        except ModelProfileError:
            raise
        except Exception as exc:  # diffusers raises OSError/ValueError/EnvironmentError/KeyError...
            raise ModelLoadError(f"{type(exc).__name__}: {exc}") from exc
        pipe.set_progress_bar_config(disable=True)
        apply_step_cache(profile, pipe)
        _cache[key] = pipe
        return pipe


def apply_step_cache(profile: ModelProfile, pipe: Any) -> bool:
    """Turn on the profile's step cache (diffusers' first-block cache) on the pipeline's
    transformer(s). Only a profile whose figures passed the gate has one (conf.check_step_cache).
    Pipelines sharing a transformer (from_pipe) share its hook: applied once."""
    if not profile.step_cache:
        return False
    from diffusers.hooks.first_block_cache import FirstBlockCacheConfig

    done = False
    for name in ("transformer", "transformer_2"):
        model = getattr(pipe, name, None)
        if model is None or not hasattr(model, "enable_cache"):
            continue
        if not model.is_cache_enabled:
            model.enable_cache(FirstBlockCacheConfig(threshold=float(profile.step_cache.get("threshold", 0.05))))
        done = True
    return done


def _reset_step_cache(pipe: Any) -> None:
    # A cancelled call leaves the cache's residuals behind (diffusers resets them only at
    # the end of a finished call): the next call must not start from another's state.
    for name in ("transformer", "transformer_2"):
        model = getattr(pipe, name, None)
        if model is not None and getattr(model, "is_cache_enabled", False):
            model._reset_stateful_cache()


def compile_for_worker(profile: ModelProfile) -> CompileReport:
    """Warm, compiled pipelines (issue 18): on CUDA, regional torch.compile of the
    transformer's repeated blocks and the best attention backend available, then one short
    call per shape bucket so every compile happens here, at worker start, never on a job.
    Elsewhere (CPU) it is skipped, and says so. Returns {"compiled", "seconds", "note"}."""
    if not profile.compile:
        return {"compiled": False, "seconds": None, "note": f"{profile.key}: compile off in the profile"}
    if not profile.resolved_device().startswith("cuda"):
        return {
            "compiled": False,
            "seconds": None,
            "note": f"{profile.key}: torch.compile skipped (no CUDA device; compiling on CPU would cost "
            "minutes for no gain)",
        }
    return _compile_cuda(profile)


def _compile_cuda(profile: ModelProfile) -> CompileReport:  # pragma: no cover - needs a CUDA device
    import torch

    started = time.perf_counter()
    pipe = get_pipeline(profile, "text_to_video")
    backend = _best_attention_backend(pipe.transformer, profile.attention_backend)
    pipe.transformer.compile_repeated_blocks(fullgraph=True)
    buckets = profile.compile_buckets or ((832, 480, 81),)
    from generation.conf import batch_limit

    for width, height, frames in buckets:
        # Every batch size a job of this bucket can meet: a new batch dimension would
        # otherwise recompile on a job's request path.
        for size in range(1, batch_limit(profile, width=width, height=height, frames=frames) + 1):
            with torch.inference_mode():
                pipe(
                    prompt=["warm-up"] * size,
                    height=height,
                    width=width,
                    num_frames=frames,
                    num_inference_steps=2,
                    guidance_scale=profile.guidance_scale,
                    output_type="latent",
                    max_sequence_length=profile.max_sequence_length,
                )
    _sync("cuda")
    seconds = time.perf_counter() - started
    shapes = ", ".join(f"{w}×{h}×{f}" for w, h, f in buckets)
    return {
        "compiled": True,
        "seconds": seconds,
        "note": f"{profile.key}: compiled repeated blocks for {shapes} in {seconds:.1f} s; attention {backend}",
    }


def _best_attention_backend(model: Any, wanted: str) -> str:  # pragma: no cover - CUDA only
    """The profile's backend if set, else the fastest one this host has, else PyTorch's SDPA."""
    for backend in [wanted] if wanted else ["_flash_3", "flash", "sage", "native"]:
        try:
            model.set_attention_backend(backend)
            return backend
        except Exception:  # not installed / not supported on this GPU: try the next
            continue
    return "native"


@dataclass
class BatchResult:
    frames: list[np.ndarray]  # uint8 (F, H, W, 3) per job, in the order given; [] when all stopped
    compute_seconds: float  # the whole call
    steps_done: int
    total_steps: int
    peak_memory_bytes: int
    device_name: str
    cancelled: bool = False  # every job asked to stop: the call stopped


def run_text_batch(
    *,
    profile: ModelProfile,
    prompts: list[str],
    negative_prompts: list[str],
    seeds: list[int],
    width: int,
    height: int,
    num_frames: int,
    steps: int,
    on_step: Callable[[int, int], bool] | None = None,
) -> BatchResult:
    """One text-to-video call for several jobs: a list of prompts and one generator per
    job, seeded as ``run`` seeds a job alone, so each job's starting noise is the one it
    would have had alone (diffusers draws a list of generators' noise one row each).
    ``on_step(done, total)`` returns True to stop the whole call (every job cancelled)."""
    import torch

    from generation.media import to_uint8

    if not (len(prompts) == len(negative_prompts) == len(seeds) >= 1):
        raise ValueError("one prompt, negative prompt and seed per job")
    pipe = get_pipeline(profile, "text_to_video")
    device = str(pipe.device) if hasattr(pipe, "device") else profile.resolved_device()
    cuda = device.startswith("cuda")
    generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
    steps_done = 0
    total_steps = steps

    def callback(p: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        nonlocal steps_done, total_steps
        steps_done = i + 1
        total_steps = getattr(p, "_num_timesteps", None) or steps
        if on_step is not None and on_step(steps_done, total_steps):
            p._interrupt = True
            raise Cancelled(steps_done)
        return kwargs

    _reset_step_cache(pipe)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    _sync(device)
    started = time.perf_counter()
    cancelled = False
    try:
        with torch.inference_mode():
            output = pipe(
                prompt=list(prompts),
                negative_prompt=[n or "" for n in negative_prompts],
                height=height,
                width=width,
                num_frames=num_frames,
                num_inference_steps=steps,
                guidance_scale=profile.guidance_scale,
                generator=generators,
                output_type="np",
                max_sequence_length=profile.max_sequence_length,
                callback_on_step_end=callback,
            )
    except Cancelled:
        cancelled = True
    finally:
        _sync(device)
        compute = time.perf_counter() - started
    peak = int(torch.cuda.max_memory_allocated()) if cuda else _peak_rss_bytes()
    device_name = torch.cuda.get_device_name(torch.device(device)) if cuda else "cpu"
    if cancelled:
        return BatchResult([], compute, steps_done, total_steps, peak, device_name, cancelled=True)
    return BatchResult([to_uint8(f) for f in output.frames], compute, steps_done, total_steps, peak, device_name)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def device_info(profile_device: str = "auto") -> DeviceInfo:
    import torch

    cuda = torch.cuda.is_available() and profile_device != "cpu"
    if cuda:
        memory_bytes = int(torch.cuda.get_device_properties(0).total_memory)
    else:
        try:
            import psutil

            memory_bytes = int(psutil.virtual_memory().total)
        except Exception:  # pragma: no cover
            memory_bytes = 0
    return {
        "device": "cuda" if cuda else "cpu",
        "device_name": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda or "",
        "memory_bytes": memory_bytes,
    }


@dataclass
class RunResult:
    frames: np.ndarray | None  # uint8 (F, H, W, 3); None when cancelled
    compute_seconds: float
    steps_done: int
    peak_memory_bytes: int
    device_name: str
    cancelled: bool = False


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _peak_rss_bytes() -> int:
    # ru_maxrss is KiB on Linux: the process's peak, which on a worker serving one job
    # at a time is the peak any job reached.
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def run(
    *,
    profile: ModelProfile,
    mode: str,
    prompt: str,
    negative_prompt: str,
    seed: int,
    width: int,
    height: int,
    num_frames: int,
    steps: int,
    strength: float | None = None,
    source_frames: np.ndarray | None = None,
    added_frames: int = 0,
    image: Any = None,
    on_step: Callable[[int, int], bool] | None = None,
) -> RunResult:
    """Run one pipeline call. ``on_step(done, total)`` returns True to cancel.

    text_to_video makes ``num_frames``; image_to_video the same from ``image`` (a PIL
    image already fitted to width × height) as its first frame; variation re-noises
    ``source_frames[:num_frames]``; extension appends ``added_frames`` to ``source_frames``."""
    import torch

    from generation.media import to_uint8

    pipe = get_pipeline(profile, mode)
    device = str(pipe.device) if hasattr(pipe, "device") else profile.resolved_device()
    cuda = device.startswith("cuda")
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    steps_done = 0

    def callback(p: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        nonlocal steps_done
        steps_done = i + 1
        total = getattr(p, "_num_timesteps", None) or steps
        if on_step is not None and on_step(steps_done, total):
            p._interrupt = True
            raise Cancelled(steps_done)
        return kwargs

    common: dict[str, Any] = dict(
        prompt=prompt,
        negative_prompt=negative_prompt or None,
        height=height,
        width=width,
        num_inference_steps=steps,
        guidance_scale=profile.guidance_scale,
        generator=generator,
        output_type="np",
        max_sequence_length=profile.max_sequence_length,
        callback_on_step_end=callback,
    )
    keep_prefix = None
    if mode == "text_to_video":
        common["num_frames"] = num_frames
    elif mode == "image_to_video":
        if image is None:
            raise ValueError("image required for image_to_video")
        common["num_frames"] = num_frames
        common["image"] = image
    else:
        from PIL import Image

        if source_frames is None:
            raise ValueError("source_frames required for variation/extension")
        src = to_uint8(source_frames)
        if mode == "variation":
            clip = src[:num_frames]
        else:  # extension: re-noise the source's tail followed by its held last frame, keep the new part
            overlap = min(profile.extension_overlap_frames, 4 * ((len(src) - 1) // 4) + 1)
            clip = np.concatenate([src[-overlap:], np.repeat(src[-1:], added_frames, axis=0)])
            keep_prefix = (src, overlap)
        common["video"] = [Image.fromarray(f) for f in clip]
        common["strength"] = float(strength if strength is not None else profile.default_strength)

    _reset_step_cache(pipe)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    _sync(device)
    started = time.perf_counter()
    cancelled = False
    try:
        with torch.inference_mode():
            output = pipe(**common)
    except Cancelled:
        cancelled = True
    finally:
        _sync(device)
        compute = time.perf_counter() - started
    peak = int(torch.cuda.max_memory_allocated()) if cuda else _peak_rss_bytes()
    device_name = torch.cuda.get_device_name(torch.device(device)) if cuda else "cpu"
    if cancelled:
        return RunResult(None, compute, steps_done, peak, device_name, cancelled=True)
    frames = to_uint8(output.frames[0])
    if keep_prefix is not None:
        src, overlap = keep_prefix
        frames = np.concatenate([src, frames[overlap:]])
    return RunResult(frames, compute, steps_done, peak, device_name)
