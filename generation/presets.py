"""Presets: aspect ratio × resolution → a frame size the model accepts, and duration →
frame count. Pure functions of their arguments and a ModelProfile's limits.

Wan needs width and height in multiples of 16 and 4k+1 frames (docs/design.md "Generation
facts"). Each resolution is a bounding box (long side × short side). Among the sizes the
model accepts (multiples of its size multiple, inside the box and the profile's limits)
the largest whose ratio is within RATIO_TOLERANCE of the asked one is chosen: rounding
each side separately gave 16:9 previews of 1.6 and 21:9 ones of 2.67.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from generation.errors import InvalidParameters

if TYPE_CHECKING:  # pragma: no cover
    from generation.conf import ModelProfile

ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "21:9": (21, 9),
}
RESOLUTIONS = ("preview", "480p", "720p", "1080p")
# (long side, short side) of each resolution's box; preview is sized per profile.
RESOLUTION_BOXES: dict[str, tuple[int, int]] = {"480p": (848, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
MIN_DURATION_SECONDS = 1
# The longest result. One pipeline call makes at most the profile's max_frames; anything
# longer (a long video, a storyboard) is chained by extension up to this.
MAX_DURATION_SECONDS = 20
MAX_SHOTS = 8

# Loop: the seam (end flowing into start) is re-noised with the video-to-video pipeline.
LOOP_PRESETS: dict[str, dict[str, Any]] = {
    "gentle": {"label": "Gentle: ½ s seam, keeps the most of the clip", "seam_seconds": 0.5, "strength": 0.5},
    "smooth": {"label": "Smooth: 1 s seam", "seam_seconds": 1.0, "strength": 0.7},
    "strong": {"label": "Strong: 2 s seam, reworked hard", "seam_seconds": 2.0, "strength": 0.9},
}
DEFAULT_LOOP_PRESET = "smooth"
# Re-cut: keep a span of the source and extend from it.
RECUT_PRESETS: dict[str, dict[str, Any]] = {
    "continue": {"label": "Continue the kept span", "strength": 0.7},
    "new_direction": {"label": "Take it somewhere new", "strength": 0.95},
}
DEFAULT_RECUT_PRESET = "continue"
# A chosen size's width/height may differ from the asked ratio by at most this (relative).
RATIO_TOLERANCE = Fraction(2, 100)


def resolution_box(resolution: str | None, *, profile: ModelProfile) -> tuple[int, int]:
    """The (long, short) box of a resolution as asked for; a missing or unknown one is refused."""
    if resolution == "preview":
        return profile.preview_long_side, profile.preview_long_side
    try:
        if resolution is None:
            raise KeyError(resolution)
        return RESOLUTION_BOXES[resolution]
    except KeyError:
        raise InvalidParameters(
            f"Unknown resolution {resolution!r}; choose one of {', '.join(RESOLUTIONS)}.", field="resolution"
        ) from None


def _ratio_of(aspect_ratio: str | None) -> tuple[int, int]:
    try:
        if aspect_ratio is None:
            raise KeyError(aspect_ratio)
        return ASPECT_RATIOS[aspect_ratio]
    except (KeyError, TypeError):
        raise InvalidParameters(
            f"Unknown aspect ratio {aspect_ratio!r}; choose one of {', '.join(ASPECT_RATIOS)}.", field="aspect_ratio"
        ) from None


def _largest_faithful(ratio: Fraction, long_box: int, short_box: int, m: int) -> tuple[int, int] | None:
    """(long, short): the largest area with both sides multiples of ``m`` inside the box
    and long/short within RATIO_TOLERANCE of ``ratio``; ties go to the closer ratio."""
    best: tuple[int, Fraction, int, int] | None = None
    for short in range(m, short_box + 1, m):
        ideal = ratio * short
        for long in {int(ideal / m) * m, (int(ideal / m) + 1) * m}:
            if long < m or long > long_box or long < short:
                continue
            error = abs(Fraction(long, short) / ratio - 1)
            if error > RATIO_TOLERANCE:
                continue
            key = (long * short, -error)
            if best is None or key > (best[0], -best[1]):
                best = (long * short, error, long, short)
    return (best[2], best[3]) if best else None


def frame_size(aspect_ratio: str | None, resolution: str | None, *, profile: ModelProfile) -> tuple[int, int]:
    """(width, height) for a preset: the largest size the model accepts whose ratio is
    within 2 % of the asked one. A resolution taller than the profile can make is refused
    (not silently shrunk); a profile slightly narrower than the box (832 for 848) narrows it."""
    a, b = _ratio_of(aspect_ratio)
    long_box, short_box = resolution_box(resolution, profile=profile)
    if short_box > profile.max_height or (resolution == "preview" and long_box > profile.max_width):
        width, height = (long_box, short_box) if a >= b else (short_box, long_box)
        raise InvalidParameters(
            f"{resolution} ({width}×{height}) is above what the model {profile.key!r} can make: at most "
            f"{profile.max_width}×{profile.max_height} px. Choose a smaller resolution.",
            field="resolution",
        )
    long_box, short_box = min(long_box, profile.max_width), min(short_box, profile.max_height)
    ratio = Fraction(max(a, b), min(a, b))  # >= 1
    found = _largest_faithful(ratio, long_box, short_box, profile.size_multiple)
    if found is None:
        raise InvalidParameters(
            f"The model {profile.key!r} has no {resolution} size within 2 % of {aspect_ratio}; "
            "choose another aspect ratio or resolution.",
            field="aspect_ratio",
        )
    long_px, short_px = found
    width, height = (long_px, short_px) if a >= b else (short_px, long_px)
    check_size(width, height, profile=profile, resolution=resolution)
    return width, height


def check_size(width: int, height: int, *, profile: ModelProfile, resolution: str | None = None) -> None:
    m = profile.size_multiple
    if width % m or height % m or width <= 0 or height <= 0:
        raise InvalidParameters(
            f"Width and height must be positive multiples of {m} (got {width}×{height}).", field="resolution"
        )
    long_side, short_side = max(width, height), min(width, height)
    if long_side > profile.max_width or short_side > profile.max_height:
        what = f"{resolution} ({width}×{height})" if resolution else f"{width}×{height}"
        raise InvalidParameters(
            f"{what} is above what the model {profile.key!r} can make: at most "
            f"{profile.max_width}×{profile.max_height} px. Choose a smaller resolution.",
            field="resolution",
        )


def longest_seconds(profile: ModelProfile) -> int:
    return int(min(MAX_DURATION_SECONDS, profile.max_total_seconds))


def _check_duration(seconds: float, *, longest: float = MAX_DURATION_SECONDS, field: str = "duration_seconds") -> float:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise InvalidParameters("Duration must be a number of seconds.", field=field) from None
    if not (MIN_DURATION_SECONDS <= value <= longest):
        raise InvalidParameters(
            f"Duration must be between {MIN_DURATION_SECONDS} and {longest:g} seconds (got {seconds}).", field=field
        )
    return value


def frames_for_duration(seconds: float, *, profile: ModelProfile, field: str = "duration_seconds") -> int:
    """4k+1 frames closest to ``seconds`` at the profile's fps (e.g. 2 s at 16 fps → 33).
    Above one clip (the profile's max_frames) the video is chained, up to its longest."""
    value = _check_duration(seconds, longest=longest_seconds(profile), field=field)
    k = max(1, int(value * profile.fps / 4 + 0.5))
    return 4 * k + 1


def extension_frames_for_duration(seconds: float, *, profile: ModelProfile, field: str = "duration_seconds") -> int:
    """Frames to append when extending by ``seconds`` (a multiple of 4); more than one
    clip's worth is appended in several extensions."""
    value = _check_duration(seconds, longest=longest_seconds(profile), field=field)
    return 4 * max(1, int(value * profile.fps / 4 + 0.5))


def clip_max_frames(profile: ModelProfile) -> int:
    """The most frames one pipeline call makes (4k+1)."""
    return 4 * ((profile.max_frames - 1) // 4) + 1


def seam_frames(seconds: float, *, profile: ModelProfile) -> int:
    return 4 * max(1, int(float(seconds) * profile.fps / 4 + 0.5)) + 1


def result_seconds(frames: int, fps: int) -> float:
    """The length a cap is checked against: frame intervals (a 5 s clip of 4k+1 = 81 frames
    at 16 fps is 5.0 s, not 5.06)."""
    return round((frames - 1) / fps, 4)


def largest_valid_frame_count(frames: int) -> int:
    """The largest 4k+1 not above ``frames`` (Wan rounds other counts down itself)."""
    if frames < 5:
        raise InvalidParameters("The source video is too short (needs at least 5 frames).", field="source_generation")
    return 4 * ((frames - 1) // 4) + 1


def duration_of(frames: int, fps: int) -> float:
    return round(frames / fps, 4)
