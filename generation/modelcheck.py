"""Check a model profile before workers take jobs for it: its directories are local (never
a hub id), its checkpoints have the components its pipelines need, its limits fit the
checkpoint (rope table, VAE and patch sizes), its dtype is one the device can run, and
one tiny denoising step runs offline. `manage.py model_check PROFILE` prints the lines.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generation.conf import ModelProfile, check_model_dir, get_profile
from generation.errors import ModelProfileError

DTYPES = ("float32", "bfloat16", "float16")
# What each pipeline class reads from its checkpoint (model_index.json and a folder each).
COMPONENTS = {
    "WanPipeline": ("transformer", "vae", "text_encoder", "tokenizer", "scheduler"),
    "WanVideoToVideoPipeline": ("transformer", "vae", "text_encoder", "tokenizer", "scheduler"),
    "WanImageToVideoPipeline": ("transformer", "vae", "text_encoder", "tokenizer", "scheduler"),
}
# Wan 2.1 I2V also reads a CLIP image embedding: its transformer has an image_dim.
CLIP_COMPONENTS = ("image_encoder", "image_processor")


class ModelCheckFailed(Exception):
    def __init__(self, report: Report):
        super().__init__("; ".join(report.errors))
        self.report = report


@dataclass
class Report:
    profile: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (ok | fail | info, text)

    def ok(self, text: str) -> None:
        self.lines.append(("ok", text))

    def fail(self, text: str) -> None:
        self.lines.append(("fail", text))

    def info(self, text: str) -> None:
        self.lines.append(("info", text))

    @property
    def errors(self) -> list[str]:
        return [text for kind, text in self.lines if kind == "fail"]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError) as exc:
        raise ModelProfileError(f"{path} cannot be read as JSON ({type(exc).__name__}: {exc})") from None


def _check_components(report: Report, profile: ModelProfile, mode: str, directory: str) -> dict[str, Any] | None:
    d = Path(directory)
    index_path = d / "model_index.json"
    if not index_path.is_file():
        report.fail(
            f"{mode}: {directory} has no model_index.json: not a diffusers checkpoint "
            "(download the -Diffusers variant of the model)"
        )
        return None
    index = _read_json(index_path)
    cls = profile.pipelines[mode].rpartition(".")[2]
    needed = list(COMPONENTS.get(cls, ("transformer", "vae", "text_encoder", "tokenizer", "scheduler")))
    transformer_cfg = d / "transformer" / "config.json"
    transformer = _read_json(transformer_cfg) if transformer_cfg.is_file() else {}
    if mode == "image_to_video" and transformer.get("image_dim") is not None:
        needed += CLIP_COMPONENTS
    missing = []
    for name in needed:
        entry = index.get(name)
        if not entry or entry == [None, None] or not (d / name).is_dir():
            missing.append(name)
    if missing:
        report.fail(
            f"{mode}: missing component(s) {', '.join(missing)} in {directory} ({cls} needs {', '.join(needed)})"
        )
        return None
    report.ok(f"{mode}: {index.get('_class_name')} checkpoint with {', '.join(needed)} ({directory})")
    if mode == "image_to_video" and transformer.get("in_channels") == 16 and not index.get("expand_timesteps"):
        report.fail(
            f"{mode}: the transformer takes 16 input channels: a text-to-video checkpoint, not "
            "image-to-video (Wan 2.1 I2V has 36; Wan 2.2 TI2V sets expand_timesteps)"
        )
        return None
    return {
        "index": index,
        "transformer": transformer,
        "vae": _read_json(d / "vae" / "config.json") if (d / "vae" / "config.json").is_file() else {},
    }


def _check_limits(report: Report, profile: ModelProfile, configs: dict[str, Any]) -> None:
    transformer, vae = configs["transformer"], configs["vae"]
    patch = transformer.get("patch_size") or [1, 2, 2]
    spatial = 2 ** sum(1 for t in (vae.get("temperal_downsample") or [False, True, True]) if t is not None)
    temporal = 2 ** sum(1 for t in (vae.get("temperal_downsample") or [False, True, True]) if t)
    multiple = spatial * int(patch[1])
    rope = int(transformer.get("rope_max_seq_len") or 1024)
    problems = []
    if profile.size_multiple % multiple:
        problems.append(
            f"size_multiple {profile.size_multiple} is not a multiple of {multiple} (VAE ×{spatial} × patch {patch[1]})"
        )
    latent_frames = (profile.max_frames - 1) // temporal + 1
    grid = {
        "frames": latent_frames // int(patch[0]),
        "width": profile.max_width // multiple,
        "height": profile.max_height // multiple,
    }
    too_big = {k: v for k, v in grid.items() if v > rope}
    if too_big:
        problems.append(
            f"the transformer's rope table ({rope}) is shorter than the largest grid the limits allow "
            f"({', '.join(f'{k} {v}' for k, v in too_big.items())}): lower max_width/max_height/"
            "max_frames"
        )
    if problems:
        for problem in problems:
            report.fail(f"limits: {problem}")
    else:
        report.ok(
            f"limits: {profile.max_width}×{profile.max_height} px, {profile.max_frames} frames per clip "
            f"({(profile.max_frames - 1) / profile.fps:g} s at {profile.fps} fps), up to "
            f"{profile.max_total_seconds} s chained; grid {grid} within rope {rope}"
        )


def _check_dtype(report: Report, profile: ModelProfile) -> bool:
    if profile.dtype not in DTYPES:
        report.fail(f"dtype {profile.dtype!r} is not one of {', '.join(DTYPES)}")
        return False
    device = profile.resolved_device()
    if device == "cpu" and profile.dtype == "float16":
        report.fail(
            "dtype float16 on a CPU: the Wan VAE and attention have no float16 kernels there; "
            "use float32 (or bfloat16) on CPU, float16/bfloat16 on a GPU"
        )
        return False
    report.ok(f"dtype {profile.dtype} on {device}")
    return True


def check_profile(key: str, *, run_step: bool = True) -> Report:
    """Everything above, for one profile. Raises ModelCheckFailed with the report."""
    report = Report(profile=key)
    try:
        profile = get_profile(key, check_dir=False)
    except ModelProfileError as exc:
        report.fail(str(exc))
        raise ModelCheckFailed(report) from None
    report.info(f"profile {key}: {profile.label or key}; pipelines {', '.join(sorted(profile.pipelines))}")
    dirs = {mode: profile.pipeline_dir(mode) for mode in profile.pipelines}
    for directory in sorted(set(dirs.values())):
        try:
            check_model_dir(key, directory)
        except ModelProfileError as exc:
            report.fail(str(exc))
    if report.errors:
        raise ModelCheckFailed(report)
    configs = {}
    for mode, directory in dirs.items():
        try:
            found = _check_components(report, profile, mode, directory)
        except ModelProfileError as exc:
            report.fail(f"{mode}: {exc}")
            found = None
        if found:
            configs[mode] = found
    if "text_to_video" in configs:
        _check_limits(report, profile, configs["text_to_video"])
    dtype_ok = _check_dtype(report, profile)
    if report.errors or not dtype_ok:
        raise ModelCheckFailed(report)
    if run_step:
        _run_one_step(report, profile)
    if report.errors:
        raise ModelCheckFailed(report)
    return report


def _run_one_step(report: Report, profile: ModelProfile) -> None:
    from generation import pipelines

    side = 2 * profile.size_multiple
    for mode in ("text_to_video", "image_to_video"):
        if mode not in profile.pipelines:
            continue
        image = None
        if mode == "image_to_video":
            from PIL import Image

            image = Image.new("RGB", (side, side), (128, 96, 64))
        started = time.perf_counter()
        try:
            result = pipelines.run(
                profile=profile,
                mode=mode,
                prompt="a test pattern",
                negative_prompt="",
                seed=0,
                width=side,
                height=side,
                num_frames=5,
                steps=1,
                image=image,
            )
        except (ModelProfileError, pipelines.ModelLoadError) as exc:
            report.fail(f"{mode}: loading offline failed: {exc}")
            continue
        except Exception as exc:  # a checkpoint that loads but cannot run (shapes, dtype)
            report.fail(f"{mode}: one step failed: {type(exc).__name__}: {exc}")
            continue
        if result.frames is None:
            report.fail(f"{mode}: one step made no frames (cancelled)")
            continue
        shape = tuple(result.frames.shape)
        if shape != (5, side, side, 3):
            report.fail(f"{mode}: one step made frames of shape {shape}, expected {(5, side, side, 3)}")
        else:
            report.ok(
                f"{mode}: loaded offline and ran one step ({side}×{side}, 5 frames) on {result.device_name} "
                f"in {time.perf_counter() - started:.2f} s"
            )
