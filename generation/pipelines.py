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
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from generation.conf import ModelProfile, check_model_dir
from generation.errors import ModelProfileError

_cache: dict[tuple[str, str, str], Any] = {}
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
        constants.HF_HUB_OFFLINE = True


offline()  # importing this module means we are about to load pipelines


def _import_class(dotted: str):
    module, _, name = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module or "diffusers"), name)
    except (ImportError, AttributeError) as exc:
        raise ModelProfileError(f"Pipeline class {dotted!r} cannot be imported: {exc}") from exc


def get_pipeline(profile: ModelProfile, mode: str):
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
        _cache[key] = pipe
        return pipe


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def device_info(profile_device: str = "auto") -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available() and profile_device != "cpu"
    info = {
        "device": "cuda" if cuda else "cpu",
        "device_name": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda or "",
    }
    if cuda:
        info["memory_bytes"] = int(torch.cuda.get_device_properties(0).total_memory)
    else:
        try:
            import psutil

            info["memory_bytes"] = int(psutil.virtual_memory().total)
        except Exception:  # pragma: no cover
            info["memory_bytes"] = 0
    return info


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

    def callback(p, i, t, kwargs):
        nonlocal steps_done
        steps_done = i + 1
        total = getattr(p, "_num_timesteps", None) or steps
        if on_step is not None and on_step(steps_done, total):
            p._interrupt = True
            raise Cancelled(steps_done)
        return kwargs

    common: dict[str, Any] = dict(
        prompt=prompt, negative_prompt=negative_prompt or None, height=height, width=width,
        num_inference_steps=steps, guidance_scale=profile.guidance_scale, generator=generator,
        output_type="np", max_sequence_length=profile.max_sequence_length, callback_on_step_end=callback,
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
