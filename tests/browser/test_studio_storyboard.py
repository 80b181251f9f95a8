"""Chromium: the artist uploads a still, lays out a 2-shot storyboard, watches the progress
of each shot, plays the one video it makes and downloads the signed original."""

import time
from itertools import pairwise
from pathlib import Path

import pytest
from PIL import Image

from generation import media
from generation.models import GenerationJob, UsageRecord
from generation.provenance import read_manifest
from tests.browser.conftest import sign_in, wait_js
from tests.factories import ConsentDocumentFactory, ProgramFactory, enroll, make_artist, sign
from tests.generation.conftest import gpu_worker, tiny_model_dir  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_artist_uploads_an_image_lays_out_a_storyboard_watches_each_shot_and_downloads(
    live_server, page, shot, gpu_worker, tmp_path
):
    program = ProgramFactory(slug="boards", name="Storyboard Program", max_duration_seconds=10)
    ConsentDocumentFactory(program=program)
    artist = make_artist(email="boards@example.test", display_name="Ines")
    enroll(artist, program)
    sign(artist, program)
    still = tmp_path / "lighthouse.png"
    Image.new("RGB", (320, 320), (240, 180, 40)).save(still)
    sign_in(page, live_server, "boards@example.test")

    page.get_by_role("link", name="Studio", exact=True).click()
    page.get_by_role("link", name="Lay out a storyboard").click()
    page.wait_for_url("**/studio/storyboard/")
    page.get_by_label("Aspect ratio").select_option("1:1")
    page.get_by_label("Shot 1: what happens").fill("a lighthouse at dusk, the lamp turns on")
    page.get_by_label("Shot 1: seconds").fill("4")
    page.get_by_label("Shot 1: start image (optional)").set_input_files(str(still))
    page.get_by_label("Shot 2: what happens").fill("the beam sweeps over a stormy sea")
    page.get_by_label("Shot 2: seconds").fill("4")
    page.get_by_label("I hold the rights to use the image(s) I upload here").check()
    page.get_by_label("Seed").fill("21")
    assert page.get_by_text("demo model with random weights: expect noise").is_visible()
    shot(page, "storyboard-1-form")
    page.get_by_role("button", name="Render storyboard").click()
    page.wait_for_url("**/studio/generations/*/")

    seen = []
    shot_taken = False
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if page.locator("video#player").count():
            break
        rows = page.locator("[data-shot]")
        if rows.count() == 2:
            states = tuple(rows.nth(i).get_attribute("data-shot-state") for i in range(2))
            percents = tuple(int(rows.nth(i).get_attribute("data-shot-percent") or 0) for i in range(2))
            if not seen or seen[-1] != (states, percents):
                seen.append((states, percents))
                if not shot_taken and states[0] == "done" and states[1] == "running":
                    shot(page, "storyboard-2-progress-per-shot")
                    shot_taken = True
        time.sleep(0.1)
    job = GenerationJob.objects.get(artist=artist)
    assert job.status == "succeeded", (job.error_detail, seen)
    assert job.mode == "storyboard" and [s["op"] for s in job.segments] == ["image", "extend"]
    # each shot was watched: the first ran and finished while the second waited, then the second ran
    assert any(s == ("running", "waiting") for s, _ in seen), seen
    assert shot_taken, seen
    assert all(p[0] <= q[0] for (_, p), (_, q) in pairwise(seen)), seen  # shot 1 only moves forward

    player = page.locator("video#player")
    player.wait_for()
    page.evaluate("document.querySelector('video#player').play()")
    wait_js(page, "document.querySelector('video#player').currentTime > 0", timeout=15)
    assert page.evaluate("document.querySelector('video#player').videoWidth") == job.width == 128
    duration = page.evaluate("document.querySelector('video#player').duration")
    assert abs(duration - job.num_frames / 16) < 0.15 and job.num_frames == 65 + 64  # one 8 s video
    assert page.locator("[data-shot-state=done]").count() == 2
    assert page.get_by_text("Start image · SHA-256").is_visible()
    assert page.get_by_text("start image of shot 1").is_visible()  # counted in usage
    shot(page, "storyboard-3-playing")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download (signed MP4)").click()
    download = info.value
    assert download.suggested_filename == f"atelier-{job.pk}.mp4"
    data = Path(download.path()).read_bytes()
    assert data[4:8] == b"ftyp" and media.probe(data)["frames"] == job.num_frames
    import hashlib

    assert hashlib.sha256(data).hexdigest() == job.signed_sha256  # the signed original, byte for byte
    report = read_manifest(data)
    assert report.trusted and report.ingredients[0]["description"] == f"sha256:{job.input_image.sha256}"
    usage = UsageRecord.objects.get(job=job)
    assert [line["shot"] for line in usage.shots] == [1, 2]
    assert page.console_errors == []
