"""Small real files for evidence tests."""

from __future__ import annotations

import io

import numpy as np


def png_bytes(width: int = 32, height: int = 24, color=(200, 40, 40)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (40, 30), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (52.0, 31.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def mp4_bytes(frames: int = 9, width: int = 32, height: int = 32) -> bytes:
    from generation.media import encode_mp4

    rng = np.random.default_rng(1)
    return encode_mp4(rng.integers(0, 255, size=(frames, height, width, 3), dtype=np.uint8), fps=16)
