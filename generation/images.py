"""Still images an artist starts a video from: checked by decoding (never by the name
alone), bounded in bytes and pixels, stripped of EXIF and any other metadata by
re-encoding, and stored privately like outputs.

Only what a decoder proves is accepted: a PNG, JPEG or WebP still whose name says the
same type. The stored file is a fresh PNG of the pixels (after applying the EXIF
orientation), so nothing of the upload but its picture is kept.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import uuid
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from generation.errors import InvalidParameters

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    from generation.models import InputImage

log = logging.getLogger(__name__)

# decoded format → the file name endings that may carry it
FORMATS = {"PNG": (".png",), "JPEG": (".jpg", ".jpeg"), "WEBP": (".webp",)}
FIELD = "image"


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    max_side: int
    min_side: int


def limits() -> ImageLimits:
    return ImageLimits(
        max_bytes=int(getattr(settings, "GENERATION_IMAGE_MAX_BYTES", 10 * 1024 * 1024)),
        max_pixels=int(getattr(settings, "GENERATION_IMAGE_MAX_PIXELS", 4096 * 4096)),
        max_side=int(getattr(settings, "GENERATION_IMAGE_MAX_SIDE", 4096)),
        min_side=int(getattr(settings, "GENERATION_IMAGE_MIN_SIDE", 64)),
    )


@dataclass(frozen=True)
class CleanImage:
    png: bytes
    sha256: str
    width: int
    height: int
    source_format: str


_strict_lock = threading.Lock()


def _load_strictly(image: PILImage) -> None:
    """Decode every pixel, refusing a truncated file. Pillow's LOAD_TRUNCATED_IMAGES is a
    process-wide switch that WeasyPrint turns on when it is imported (the PDF reports), so
    it is turned off for the length of this load."""
    from PIL import ImageFile

    with _strict_lock:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            image.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


def _refuse(message: str) -> InvalidParameters:
    return InvalidParameters(message, field=FIELD)


def clean_image(data: bytes, *, filename: str) -> CleanImage:
    """Decode, check and re-encode an upload; raises InvalidParameters(field="image")."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    lim = limits()
    if not data:
        raise _refuse("The file is empty.")
    if len(data) > lim.max_bytes:
        raise _refuse(f"The image is {len(data) / 1e6:.1f} MB; at most {lim.max_bytes / 1e6:.0f} MB is accepted.")
    ext = os.path.splitext(filename or "")[1].lower()
    allowed = sorted({e for exts in FORMATS.values() for e in exts})
    if ext not in allowed:
        raise _refuse(f"Upload a PNG, JPEG or WebP still (a file ending in {', '.join(allowed)}).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: PILImage = Image.open(io.BytesIO(data))
            fmt = image.format
            width, height = image.size
            if fmt not in FORMATS:
                raise _refuse("This file is not a PNG, JPEG or WebP image.")
            # Size first, from the header: never decode a pixel bomb.
            if width * height > lim.max_pixels or max(width, height) > lim.max_side:
                raise _refuse(
                    f"The image is {width}×{height} px; at most {lim.max_side} px a side and "
                    f"{lim.max_pixels / 1e6:.0f} megapixels are accepted."
                )
            if getattr(image, "n_frames", 1) > 1:
                raise _refuse("This is an animated image; upload a still.")
            _load_strictly(image)
    except InvalidParameters:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse("This file is not an image we can read (PNG, JPEG or WebP).") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data
        raise _refuse(f"The image could not be decoded ({type(exc).__name__}); it may be damaged.") from None
    if ext not in FORMATS[fmt]:
        raise _refuse(f"The file is a {fmt} image but its name ends in {ext}; rename it or export it again.")
    if min(width, height) < lim.min_side:
        raise _refuse(f"The image is {width}×{height} px; it needs at least {lim.min_side} px a side.")
    image = ImageOps.exif_transpose(image)  # keep the picture the way it was shown, then drop EXIF
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    else:
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)  # a fresh file: no EXIF, XMP, ICC or text chunks
    png = out.getvalue()
    return CleanImage(
        png=png, sha256=hashlib.sha256(png).hexdigest(), width=image.width, height=image.height, source_format=fmt
    )


def _image_path(*, program_id: Any, artist_id: Any) -> str:
    return f"generations/{program_id}/{artist_id}/inputs/{uuid.uuid4().hex}.png"


@transaction.atomic
def image_store(*, artist: Any, program_id: int, data: bytes, filename: str, rights_attested: bool) -> InputImage:
    """Check and store one still for the artist in the program. Raises InvalidParameters
    with the field at fault; nothing is stored unless every check passed."""
    from generation.models import InputImage

    if rights_attested is not True:
        raise InvalidParameters("Confirm that you hold the rights to use this image.", field="rights_attested")
    clean = clean_image(data, filename=filename)
    name = default_storage.save(_image_path(program_id=program_id, artist_id=artist.pk), ContentFile(clean.png))
    try:
        with transaction.atomic():
            image = InputImage.objects.create(
                artist=artist,
                program_id=program_id,
                file=name,
                sha256=clean.sha256,
                width=clean.width,
                height=clean.height,
                bytes=len(clean.png),
                source_format=clean.source_format,
                rights_attested=True,
            )
    except Exception:
        default_storage.delete(name)
        raise
    return image


def image_discard(*, image: InputImage) -> None:
    """Delete a just-uploaded image whose submission was refused (nothing is kept of a
    refused submission). The row may already be gone with a rolled-back transaction."""
    from generation.models import GenerationJob, InputImage

    if GenerationJob.objects.filter(input_image_id=image.pk).exists():
        return
    name = image.file.name or ""
    InputImage.objects.filter(pk=image.pk).delete()
    try:
        default_storage.delete(name)
    except OSError:
        log.warning("could not delete input image %s", name, exc_info=True)


def read_image(image: InputImage) -> bytes:
    with default_storage.open(image.file.name or "", "rb") as fh:
        data: bytes = fh.read()
        return data


def fit_image(data: bytes, *, width: int, height: int) -> PILImage:
    """The stored still cropped to the job's aspect ratio (centre) and resized to its size."""
    from PIL import Image, ImageOps

    image = Image.open(io.BytesIO(data)).convert("RGB")
    return ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
