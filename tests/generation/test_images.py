"""Input stills: type checked by decoding (never by the name alone), size and pixel
limits, EXIF stripped by re-encoding, and nothing stored when refused."""

import hashlib
import io
import os

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from generation.errors import InvalidParameters
from generation.images import clean_image, image_store
from generation.models import InputImage
from tests.generation.conftest import make_tester

pytestmark = pytest.mark.django_db


def still(fmt="PNG", size=(96, 64), colour=(200, 40, 40), **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format=fmt, **save)
    return buf.getvalue()


def jpeg_with_exif(orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation  # rotate 90° when shown
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N"}  # GPS
    return still("JPEG", size=(120, 80), exif=exif.tobytes())


def stored_files(tester) -> list[str]:
    folder = f"generations/{tester.program.pk}/{tester.artist.pk}/inputs"
    if not default_storage.exists(folder):
        return []
    return default_storage.listdir(folder)[1]


@pytest.mark.parametrize("fmt,name", [("PNG", "a.png"), ("JPEG", "a.jpg"), ("JPEG", "a.JPEG"), ("WEBP", "a.webp")])
def test_png_jpeg_and_webp_are_accepted_and_re_encoded_as_png(fmt, name):
    clean = clean_image(still(fmt), filename=name)
    assert clean.png[:8] == b"\x89PNG\r\n\x1a\n" and (clean.width, clean.height) == (96, 64)
    assert clean.source_format == fmt and clean.sha256 == hashlib.sha256(clean.png).hexdigest()


def test_exif_is_applied_then_stripped():
    clean = clean_image(jpeg_with_exif(), filename="holiday.jpg")
    assert (clean.width, clean.height) == (80, 120)  # the orientation was applied to the pixels
    reopened = Image.open(io.BytesIO(clean.png))
    assert not reopened.getexif() and "exif" not in reopened.info and b"SecretCam" not in clean.png


@pytest.mark.parametrize(
    "data,name,needle",
    [
        (b"%PDF-1.4 not an image at all", "drawing.png", "not an image"),
        (b"", "empty.png", "empty"),
        (still("PNG"), "still.jpg", "is a PNG image but its name ends in .jpg"),
        (still("JPEG"), "still.webp", "is a JPEG image but its name ends in .webp"),
        (still("PNG"), "still.txt", "PNG, JPEG or WebP"),
        (still("GIF"), "anim.png", "not a PNG, JPEG or WebP"),
        (still("PNG")[:60], "cut.png", "could not be decoded"),
        (still("PNG", size=(40, 40)), "tiny.png", "at least 64 px"),
    ],
)
def test_refusals_name_the_image_field(data, name, needle):
    with pytest.raises(InvalidParameters) as err:
        clean_image(data, filename=name)
    assert err.value.field == "image" and needle in err.value.message


def test_too_many_bytes_is_refused_before_decoding(settings):
    settings.GENERATION_IMAGE_MAX_BYTES = 1000
    with pytest.raises(InvalidParameters) as err:
        clean_image(still("PNG", size=(400, 400), colour=(1, 2, 3)) + b"\0" * 2000, filename="big.png")
    assert err.value.field == "image" and "at most" in err.value.message


def test_too_many_pixels_is_refused_from_the_header(settings):
    settings.GENERATION_IMAGE_MAX_PIXELS = 100 * 100
    with pytest.raises(InvalidParameters) as err:
        clean_image(still("PNG", size=(200, 120)), filename="wide.png")
    assert err.value.field == "image" and "200×120" in err.value.message


def test_storing_keeps_a_private_png_and_refusals_store_nothing(settings):
    t = make_tester()
    before = stored_files(t)
    with pytest.raises(InvalidParameters) as err:
        image_store(
            artist=t.artist, program_id=t.program.pk, data=still("PNG"), filename="a.png", rights_attested=False
        )
    assert err.value.field == "rights_attested"
    for data, name in ((b"nope", "a.png"), (still("PNG"), "a.jpg")):
        with pytest.raises(InvalidParameters):
            image_store(artist=t.artist, program_id=t.program.pk, data=data, filename=name, rights_attested=True)
    assert InputImage.objects.count() == 0 and stored_files(t) == before

    image = image_store(
        artist=t.artist, program_id=t.program.pk, data=jpeg_with_exif(), filename="holiday.jpg", rights_attested=True
    )
    assert image.file.name.startswith(f"generations/{t.program.pk}/{t.artist.pk}/inputs/")
    assert image.file.name.endswith(".png") and "holiday" not in image.file.name
    with default_storage.open(image.file.name, "rb") as fh:
        data = fh.read()
    assert hashlib.sha256(data).hexdigest() == image.sha256 and image.bytes == len(data)
    assert (image.width, image.height, image.source_format) == (80, 120, "JPEG")
    assert os.path.basename(image.file.name) in stored_files(t)
    assert not default_storage.url(image.file.name).startswith("/static/")


def test_a_truncated_file_is_refused_even_where_weasyprint_allows_truncated_images():
    import weasyprint  # noqa: F401  (sets PIL's LOAD_TRUNCATED_IMAGES process-wide)
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES
    data = still("PNG", size=(300, 200), colour=(9, 9, 9))
    for cut in (len(data) // 2, 60):
        with pytest.raises(InvalidParameters) as err:
            clean_image(data[:cut], filename="cut.png")
        assert err.value.field == "image"
    assert ImageFile.LOAD_TRUNCATED_IMAGES  # left as it was
