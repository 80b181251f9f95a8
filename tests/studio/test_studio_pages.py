"""The studio's details: download, the share form's video, fields per mode, what blocks
generating said before submit, an empty filter, and the demo model's honest label."""

import json
import re

import pytest

from tester_platform.consent.services import consent_withdraw
from tester_platform.programs.models import Enrollment
from tester_platform.programs.services import enrollment_suspend, program_set_paused
from tests.factories import make_output

pytestmark = pytest.mark.django_db


@pytest.fixture
def output(artist, program):
    return make_output(artist, program)


def test_the_detail_page_offers_the_signed_original_for_download(client, artist, output):
    client.force_login(artist)
    page = client.get(f"/studio/generations/{output.pk}/").content.decode()
    href = re.search(r'<a class="button" id="download" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert href.endswith("?download=1") and "Download (signed MP4)" in page
    response = client.get(href)
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    assert response["Content-Disposition"] == f'attachment; filename="atelier-{output.pk}.mp4"'
    assert b"".join(response.streaming_content)[4:8] == b"ftyp"
    client.logout()
    assert client.get(href).status_code == 404  # the permission check still applies


def test_the_share_form_shows_the_video_being_shared(client, artist, output):
    client.force_login(artist)
    page = client.get(f"/sharing/new/{output.pk}/").content.decode()
    assert '<video id="share-video" src="/studio/media/' in page
    assert f"#{output.pk} · a test output" in page


def test_the_derive_form_says_which_fields_each_mode_uses(client, artist, output):
    client.force_login(artist)
    page = client.get(f"/studio/generations/{output.pk}/").content.decode()
    assert 'data-mode-fields="mode-fields"' in page and "js/studio.js" in page
    spec = json.loads(re.search(r'<script id="mode-fields" type="application/json">(.*?)</script>', page).group(1))
    assert "duration_seconds" in spec["extension"] and "duration_seconds" not in spec["variation"]
    assert "<script>" not in page  # no inline script: strict CSP


def test_the_studio_says_before_submit_when_the_program_is_paused_with_the_reason(client, artist, program, manager):
    program_set_paused(program=program, actor=manager, paused=True, reason="Model update until Monday")
    client.force_login(artist)
    page = client.get("/studio/").content.decode()
    assert "Main Program is paused by its managers" in page and "Reason: Model update until Monday" in page
    assert re.search(r'<button type="submit" class="button primary" disabled>Generate</button>', page)


def test_the_studio_says_when_consent_was_withdrawn_and_links_to_sign_again(client, artist, program):
    consent_withdraw(artist=artist, program=program)
    client.force_login(artist)
    page = client.get("/studio/").content.decode()
    assert "You withdrew your consent for Main Program; sign it again to generate." in page
    assert f'href="/programs/{program.slug}/consent/"' in page


def test_the_studio_says_when_the_enrollment_is_suspended_with_the_reason(client, artist, program, manager):
    enrollment = Enrollment.objects.get(artist=artist, program=program)
    enrollment_suspend(enrollment=enrollment, actor=manager, reason="Shared a token in a public repository")
    client.force_login(artist)
    page = client.get("/studio/").content.decode()
    assert "suspended: Shared a token in a public repository" in page


def test_the_derive_form_says_so_too(client, artist, program, manager, output):
    program_set_paused(program=program, actor=manager, paused=True, reason="")
    client.force_login(artist)
    page = client.get(f"/studio/generations/{output.pk}/").content.decode()
    assert "Main Program is paused by its managers" in page
    assert '<button type="submit" class="button primary" disabled>Start</button>' in page


def test_a_filter_with_no_match_says_so(client, artist, output):
    client.force_login(artist)
    page = client.get("/studio/?status=failed").content.decode()
    assert "No generations match this filter." in page and "No generations yet." not in page
    page = client.get("/studio/").content.decode()
    assert "No generations match this filter." not in page


def test_outputs_of_the_random_weight_demo_model_are_labelled(client, artist, output):
    client.force_login(artist)
    page = client.get(f"/studio/generations/{output.pk}/").content.decode()
    assert "demo model with random weights: expect noise" in page


# --- the new modes in the studio's forms ---------------------------------------------------


def _png(name="still.png", fmt="PNG", size=(120, 80)):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (30, 140, 90)).save(buf, format=fmt)
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


NEW = {
    "mode": "image_to_video",
    "prompt": "the meadow at dawn",
    "duration_seconds": 2,
    "aspect_ratio": "16:9",
    "resolution": "preview",
    "seed": 3,
    "rights_attested": "on",
}


def test_the_new_video_form_starts_from_an_uploaded_image(client, artist, program, empty_gpu_queue):
    from generation.models import GenerationJob, InputImage

    client.force_login(artist)
    page = client.get("/studio/").content.decode()
    assert 'enctype="multipart/form-data"' in page and 'data-mode-fields="new-mode-fields"' in page
    response = client.post("/studio/", {**NEW, "program": program.pk, "image": _png()})
    assert response.status_code == 302, response.content.decode()[-2000:]
    job = GenerationJob.objects.get()
    image = InputImage.objects.get()
    assert job.mode == "image_to_video" and job.input_image == image and image.artist == artist
    detail = client.get(response["Location"]).content.decode()
    assert 'alt="The still this video starts from"' in detail and image.sha256[:12] in detail


@pytest.mark.parametrize(
    "overrides,needle,status",
    [
        ({"image": "png-as-jpg"}, "is a PNG image but its name ends in .jpg", 400),
        ({"rights_attested": ""}, "Confirm that you hold the rights", 400),
        ({"quota": 0}, "compute seconds", 429),  # refused by the submit, after the upload: the still goes too
    ],
)
def test_a_refused_image_submission_keeps_nothing(client, artist, program, overrides, needle, status, empty_gpu_queue):
    from django.core.files.storage import default_storage

    from generation.models import GenerationJob, InputImage
    from tester_platform.programs.models import Program

    if "quota" in overrides:
        Program.objects.filter(pk=program.pk).update(daily_compute_seconds=overrides.pop("quota"))

    folder = f"generations/{program.pk}/{artist.pk}/inputs"
    before = default_storage.listdir(folder)[1] if default_storage.exists(folder) else []
    body = {**NEW, "program": program.pk, "image": _png(), **overrides}
    if overrides.get("image") == "png-as-jpg":
        body["image"] = _png("holiday.jpg")
    client.force_login(artist)
    response = client.post("/studio/", body)
    assert response.status_code == status and needle in response.content.decode()
    after = default_storage.listdir(folder)[1] if default_storage.exists(folder) else []
    assert InputImage.objects.count() == 0 and GenerationJob.objects.count() == 0 and after == before


def test_the_storyboard_page_lays_out_shots_as_one_job(client, artist, program, empty_gpu_queue):
    from generation.models import GenerationJob

    client.force_login(artist)
    page = client.get("/studio/storyboard/").content.decode()
    assert page.count("data-shot-row=") == 4 and "Render storyboard" in page
    response = client.post(
        "/studio/storyboard/",
        {
            "program": program.pk,
            "aspect_ratio": "1:1",
            "resolution": "preview",
            "rights_attested": "on",
            "shot_1_prompt": "a kite on the ground",
            "shot_1_seconds": 2,
            "shot_1_image": _png(),
            "shot_2_prompt": "it lifts into the wind",
            "shot_2_seconds": 2,
            "shot_3_prompt": "",
            "shot_4_prompt": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    job = GenerationJob.objects.get()
    assert job.mode == "storyboard" and [s["op"] for s in job.segments] == ["image", "extend"]
    assert job.num_frames == 65 and job.input_image is not None
    detail = client.get(response["Location"]).content.decode()
    assert detail.count("data-shot=") == 2 and 'data-shot-state="waiting"' in detail


def test_the_storyboard_page_refuses_a_result_over_the_cap(client, artist, program, empty_gpu_queue):
    from generation.models import GenerationJob

    client.force_login(artist)
    response = client.post(
        "/studio/storyboard/",
        {
            "program": program.pk,
            "aspect_ratio": "1:1",
            "resolution": "preview",
            "shot_1_prompt": "one",
            "shot_1_seconds": 3,
            "shot_2_prompt": "two",
            "shot_2_seconds": 3,
        },
    )
    assert response.status_code == 400 and "this program allows videos up to 5 seconds" in response.content.decode()
    assert GenerationJob.objects.count() == 0


@pytest.mark.parametrize(
    "body,expect",
    [
        ({"mode": "loop", "loop_preset": "strong", "prompt": ""}, {"mode": "loop", "strength": 0.9}),
        (
            {
                "mode": "recut",
                "keep_from_seconds": 0,
                "keep_to_seconds": 0.5,
                "duration_seconds": 1,
                "recut_preset": "continue",
                "prompt": "then snow",
            },
            {"mode": "recut", "strength": 0.7, "num_frames": 5 + 16},
        ),
    ],
)
def test_the_derive_form_makes_loops_and_re_cuts(client, artist, output, body, expect, empty_gpu_queue):
    from generation.models import GenerationJob

    client.force_login(artist)
    response = client.post(f"/studio/generations/{output.pk}/", body)
    assert response.status_code == 302, response.content.decode()[-2000:]
    job = GenerationJob.objects.exclude(pk=output.pk).get()
    assert {k: getattr(job, k) for k in expect} == expect and job.source_job == output
