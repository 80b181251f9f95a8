"""Video encoding with PyAV (bundled FFmpeg, no system ffmpeg needed)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Pipeline output (F, H, W, 3) floats in [0, 1] → uint8."""
    if frames.dtype == np.uint8:
        return frames
    scaled: np.ndarray = (np.clip(frames, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return scaled


def np_concat(first: np.ndarray | None, second: np.ndarray) -> np.ndarray:
    """Frames one after the other (``first`` may be None: then just ``second``)."""
    return second if first is None else np.concatenate([first, second])


def encode_mp4(frames: np.ndarray, *, fps: int, crf: int = 18) -> bytes:
    """H.264 (yuv420p) MP4 of uint8 RGB frames (F, H, W, 3)."""
    import av

    frames = to_uint8(frames)
    _, height, width, _ = frames.shape
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def decode_frames(data: bytes) -> np.ndarray:
    """All frames of an MP4 as uint8 RGB (F, H, W, 3)."""
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(frames)


def probe(data: bytes) -> dict[str, Any]:
    """width, height, frames (counted by decoding), codec, fps."""
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(video=0))
        return {
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "frames": count,
            "codec": stream.codec_context.name,
            "fps": float(stream.average_rate or 0),
        }


def poster_jpeg(frames: np.ndarray, *, quality: int = 85) -> bytes:
    """The thumbnail: the middle frame as a JPEG."""
    from PIL import Image

    frames = to_uint8(frames)
    buf = io.BytesIO()
    Image.fromarray(frames[len(frames) // 2]).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
