"""The API in step with the studio: image upload, image to video, storyboards, loop and
re-cut, and the program's length cap on the whole result, refused before anything runs."""

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from generation.models import GenerationJob, InputImage
from tester_platform.programs.models import Program
from tests.conftest import api_as
from tests.factories import make_output
from tests.studio.conftest import empty_gpu_queue, queued_messages  # noqa: F401

pytestmark = pytest.mark.usefixtures("empty_gpu_queue")


def image_file(fmt="PNG", name="still.png", size=(120, 80)):
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, format=fmt)
    buf.seek(0)
    buf.name = name
    return buf


def upload(api, program, **overrides):
    body = {"program": program.pk, "image": image_file(), "rights_attested": True, **overrides}
    return api.post("/api/v1/images/", body, format="multipart")


def inputs_folder(artist, program):
    folder = f"generations/{program.pk}/{artist.pk}/inputs"
    return default_storage.listdir(folder)[1] if default_storage.exists(folder) else []


def test_an_uploaded_png_is_stored_and_starts_an_image_to_video(artist, program, django_capture_on_commit_callbacks):
    api = api_as(artist)
    response = upload(api, program)
    assert response.status_code == 201, response.content
    body = response.json()
    image = InputImage.objects.get(pk=body["id"])
    assert (body["width"], body["height"], body["source_format"], body["sha256"]) == (120, 80, "PNG", image.sha256)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/v1/generations/",
            {
                "program": program.pk,
                "mode": "image_to_video",
                "prompt": "the sea",
                "image": image.pk,
                "duration_seconds": 2,
                "resolution": "preview",
            },
            format="json",
        )
    assert created.status_code == 201, created.content
    job = created.json()
    assert job["mode"] == "image_to_video" and job["input_image"] == {"id": image.pk, "sha256": image.sha256}
    assert job["shots"] == [{"number": 1, "prompt": "the sea", "state": "waiting", "percent": 0, "seconds": 2.0}]
    assert queued_messages() == 1


@pytest.mark.parametrize(
    "overrides,field,needle",
    [
        ({"image": io.BytesIO(b"GIF89a not really")}, "image", "not an image"),
        ({"image": image_file("PNG", "photo.jpg")}, "image", "is a PNG image but its name ends in .jpg"),
        ({"image": image_file("JPEG", "big.jpg", size=(5000, 3000))}, "image", "at most 4096 px"),
        ({"rights_attested": False}, "rights_attested", "rights"),
    ],
)
def test_refused_uploads_have_field_errors_and_store_nothing(artist, program, overrides, field, needle):
    if "image" in overrides and not getattr(overrides["image"], "name", None):
        overrides["image"].name = "scan.png"
    before = inputs_folder(artist, program)
    response = upload(api_as(artist), program, **overrides)
    assert response.status_code == 400, response.content
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert needle in body["errors"][field][0]
    assert InputImage.objects.count() == 0 and inputs_folder(artist, program) == before


def test_a_too_large_upload_is_refused_before_it_is_read(artist, program, settings):
    settings.GENERATION_IMAGE_MAX_BYTES = 200
    before = inputs_folder(artist, program)
    response = upload(api_as(artist), program)
    assert response.status_code == 400 and "at most" in response.json()["errors"]["image"][0]
    assert InputImage.objects.count() == 0 and inputs_folder(artist, program) == before


def test_another_artists_image_cannot_be_used(artist, other_artist, program):
    image_id = upload(api_as(other_artist), program).json()["id"]
    response = api_as(artist).post(
        "/api/v1/generations/",
        {"program": program.pk, "mode": "image_to_video", "prompt": "p", "image": image_id, "duration_seconds": 1},
        format="json",
    )
    assert response.status_code == 400 and "image" in response.json()["errors"]
    assert GenerationJob.objects.count() == 0


def test_a_storyboard_is_one_job_with_its_shots(artist, program):
    Program.objects.filter(pk=program.pk).update(max_duration_seconds=10)
    image_id = upload(api_as(artist), program).json()["id"]
    response = api_as(artist).post(
        "/api/v1/generations/",
        {
            "program": program.pk,
            "mode": "storyboard",
            "aspect_ratio": "9:16",
            "shots": [
                {"prompt": "a door opens", "seconds": 2, "image": image_id},
                {"prompt": "light pours in", "seconds": 2},
                {"prompt": "a garden", "seconds": 1.5},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [s["prompt"] for s in body["shots"]] == ["a door opens", "light pours in", "a garden"]
    job = GenerationJob.objects.get()
    assert [s["op"] for s in job.segments] == ["image", "extend", "extend"] and job.num_frames == 33 + 32 + 24
    assert job.input_image_id == image_id and (job.width, job.height) == (64, 112)


@pytest.mark.parametrize(
    "body,field",
    [
        ({"mode": "storyboard", "shots": [{"prompt": "a", "seconds": 2}] * 3}, "shots"),  # 6 s in a 5 s program
        ({"mode": "text_to_video", "prompt": "p", "duration_seconds": 6}, "duration_seconds"),
        ({"mode": "storyboard", "shots": [{"prompt": "", "seconds": 2}]}, "shots"),
        ({"mode": "storyboard"}, "shots"),
        ({"mode": "image_to_video", "prompt": "p", "duration_seconds": 2}, "image"),
    ],
)
def test_results_over_the_program_cap_and_bad_shots_are_refused_before_anything_runs(artist, program, body, field):
    response = api_as(artist).post("/api/v1/generations/", {"program": program.pk, **body}, format="json")
    assert response.status_code == 400, response.content
    assert any(key.split(".")[0] == field for key in response.json()["errors"]), response.json()
    assert GenerationJob.objects.count() == 0 and queued_messages() == 0


def test_extending_an_extension_is_capped_on_the_whole_result(artist, program):
    source = make_output(artist, program, frames=65)  # 4 s
    ok = api_as(artist).post(
        "/api/v1/generations/",
        {
            "program": program.pk,
            "mode": "extension",
            "prompt": "on",
            "source_generation": source.pk,
            "duration_seconds": 1,
        },
        format="json",
    )
    assert ok.status_code == 201 and ok.json()["num_frames"] == 81  # 5.0 s: at the cap
    too_long = api_as(artist).post(
        "/api/v1/generations/",
        {
            "program": program.pk,
            "mode": "extension",
            "prompt": "on",
            "source_generation": source.pk,
            "duration_seconds": 2,
        },
        format="json",
    )
    assert too_long.status_code == 400
    assert "6 s long; this program allows videos up to 5 seconds" in too_long.json()["errors"]["duration_seconds"][0]
    assert too_long.json()["code"] == "too_long"
    assert GenerationJob.objects.filter(mode="extension").count() == 1


def test_loop_and_recut_through_the_api(artist, program):
    source = make_output(artist, program, frames=33)
    api = api_as(artist)
    loop = api.post(
        "/api/v1/generations/",
        {"program": program.pk, "mode": "loop", "source_generation": source.pk, "preset": "gentle"},
        format="json",
    )
    assert loop.status_code == 201, loop.content
    assert loop.json()["num_frames"] == 33 and loop.json()["prompt"] == source.prompt
    recut = api.post(
        "/api/v1/generations/",
        {
            "program": program.pk,
            "mode": "recut",
            "prompt": "then rain",
            "source_generation": source.pk,
            "keep_from_seconds": 0.25,
            "keep_to_seconds": 1.5,
            "duration_seconds": 1,
            "preset": "new_direction",
        },
        format="json",
    )
    assert recut.status_code == 201, recut.content
    job = GenerationJob.objects.get(pk=recut.json()["id"])
    assert job.segments[0]["op"] == "trim" and job.strength == 0.95 and job.num_frames == 17 + 16
    bad = api.post(
        "/api/v1/generations/",
        {
            "program": program.pk,
            "mode": "recut",
            "prompt": "x",
            "source_generation": source.pk,
            "keep_from_seconds": 1.5,
            "keep_to_seconds": 0.5,
            "duration_seconds": 1,
        },
        format="json",
    )
    assert bad.status_code == 400 and "keep_to_seconds" in bad.json()["errors"]


def test_the_schema_documents_the_new_modes_and_the_upload(api):
    schema = api.get("/api/schema/?format=json").json()
    create = schema["components"]["schemas"]["GenerationCreateRequest"]["properties"]
    assert {"image", "shots", "preset", "keep_from_seconds", "keep_to_seconds"} <= set(create)
    assert "storyboard" in str(schema["components"]["schemas"]) and "recut" in str(schema["components"]["schemas"])
    assert "multipart/form-data" in schema["paths"]["/api/v1/images/"]["post"]["requestBody"]["content"]
