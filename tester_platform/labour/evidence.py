"""Evidence files for feedback reports: stills and short clips.

The type is what a decoder proves, never the name or the declared content type: a still
must open in Pillow as PNG, JPEG, WebP or GIF, and is stored re-encoded as PNG (no EXIF,
no trailing bytes); a clip must open in PyAV as MP4/QuickTime or WebM/Matroska with a
video stream, within the length limit, and is stored as uploaded. Sizes are bounded before
anything is decoded. Files go to private storage; only a permission-checked view serves
them. (generation/images.py checks studio stills the same way; it is the engine's and not
committed yet, so the platform keeps this small checker for evidence.)"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from fractions import Fraction

from django.conf import settings

from tester_platform.errors import InvalidInput

FIELD = "attachments"
IMAGE_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}
VIDEO_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": ("video/mp4", "mp4"), "matroska,webm": ("video/webm", "webm")}


@dataclass(frozen=True)
class Limits:
    max_files: int
    image_max_bytes: int
    image_max_side: int
    video_max_bytes: int
    video_max_ms: int


def limits() -> Limits:
    return Limits(
        max_files=int(getattr(settings, "EVIDENCE_MAX_FILES", 5)),
        image_max_bytes=int(getattr(settings, "EVIDENCE_IMAGE_MAX_BYTES", 10 * 1024 * 1024)),
        image_max_side=int(getattr(settings, "EVIDENCE_IMAGE_MAX_SIDE", 4096)),
        video_max_bytes=int(getattr(settings, "EVIDENCE_VIDEO_MAX_BYTES", 25 * 1024 * 1024)),
        # Seconds in the setting (fractions allowed), milliseconds in the code.
        video_max_ms=int(Fraction(str(getattr(settings, "EVIDENCE_VIDEO_MAX_SECONDS", 30))) * 1000),
    )


@dataclass(frozen=True)
class Evidence:
    kind: str  # "image" | "video"
    data: bytes  # what is stored
    extension: str
    content_type: str
    width: int
    height: int
    duration_ms: int | None  # integers only in labour code (tests/payments/test_no_float.py)
    sha256: str


def megabytes(size: int) -> str:
    """Bytes as MB with one decimal, in integers (this app keeps floats away from money)."""
    tenths = (size + 50_000) // 100_000
    return f"{tenths // 10}.{tenths % 10}"


def _seconds(ms: int) -> str:
    return str(ms // 1000) if ms % 1000 == 0 else f"{ms // 1000}.{ms % 1000:03d}".rstrip("0")


def _refuse(name: str, why: str) -> InvalidInput:
    label = f"“{name[:60]}”" if name else "The file"
    return InvalidInput(f"{label}: {why}", field=FIELD, code="bad_attachment")


def _image(data: bytes, name: str, lim: Limits) -> Evidence | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            fmt = probe.format
            width, height = probe.size
            if fmt not in IMAGE_FORMATS:
                raise _refuse(name, "only PNG, JPEG, WebP or GIF stills are accepted.")
            if max(width, height) > lim.image_max_side:
                raise _refuse(name, f"the image is {width}×{height}; at most {lim.image_max_side} px a side.")
            probe.load()
            image = probe.convert("RGBA" if probe.mode in ("RGBA", "LA", "P") else "RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    except (OSError, SyntaxError, ValueError):
        raise _refuse(name, "the image is damaged and could not be read.") from None
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    png = out.getvalue()
    return Evidence(
        kind="image",
        data=png,
        extension="png",
        content_type="image/png",
        width=width,
        height=height,
        duration_ms=None,
        sha256=hashlib.sha256(png).hexdigest(),
    )


def _video(data: bytes, name: str, lim: Limits) -> Evidence | None:
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            kind = VIDEO_CONTAINERS.get(container.format.name)
            streams = container.streams.video
            if kind is None or not streams:
                return None
            stream = streams[0]
            duration = None
            if container.duration is not None:
                duration = container.duration // 1000  # AV_TIME_BASE (µs) → ms
            elif stream.duration is not None and stream.time_base is not None:
                duration = int(stream.duration * stream.time_base * 1000)  # a Fraction, exact
            width, height = stream.codec_context.width, stream.codec_context.height
            # Prove there is a picture: decode the first frame.
            next(container.decode(video=0))
    except (av.error.FFmpegError, StopIteration, ValueError, IndexError):
        return None
    if duration is None or duration > lim.video_max_ms:
        raise _refuse(name, f"clips may be at most {_seconds(lim.video_max_ms)} seconds long.")
    content_type, extension = kind
    return Evidence(
        kind="video",
        data=data,
        extension=extension,
        content_type=content_type,
        width=width or 0,
        height=height or 0,
        duration_ms=duration,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def check_evidence(data: bytes, *, name: str = "") -> Evidence:
    """Prove what an upload is (raises InvalidInput on field "attachments" otherwise)."""
    lim = limits()
    if not data:
        raise _refuse(name, "the file is empty.")
    largest = max(lim.image_max_bytes, lim.video_max_bytes)
    if len(data) > largest:
        raise _refuse(name, f"the file is {megabytes(len(data))} MB; at most {megabytes(largest)} MB is accepted.")
    image = _image(data, name, lim) if len(data) <= lim.image_max_bytes else None
    if image is not None:
        return image
    video = _video(data, name, lim)
    if video is not None:
        if len(data) > lim.video_max_bytes:
            raise _refuse(name, f"clips may be at most {megabytes(lim.video_max_bytes)} MB.")
        return video
    raise _refuse(name, "attach a still (PNG, JPEG, WebP, GIF) or a short clip (MP4, WebM); this file is neither.")
