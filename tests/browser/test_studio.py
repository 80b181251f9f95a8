import time

import pytest

from generation.models import GenerationJob
from tests.browser.conftest import sign_in, wait_js
from tests.factories import ConsentDocumentFactory, ProgramFactory, enroll, make_artist, sign
from tests.generation.conftest import gpu_worker, tiny_model_dir  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_artist_generates_watches_progress_and_plays_the_video(live_server, page, shot, gpu_worker):
    program = ProgramFactory(slug="studio", name="Studio Program")
    ConsentDocumentFactory(program=program)
    artist = make_artist(email="studio@example.test", display_name="Sol")
    enroll(artist, program)
    sign(artist, program)
    sign_in(page, live_server, "studio@example.test")

    page.get_by_role("link", name="Studio", exact=True).click()
    page.get_by_label("Prompt", exact=True).fill("a hot air balloon drifting over a canyon at sunrise")
    page.get_by_label("Duration (seconds)").fill("3")
    page.get_by_label("Seed").fill("11")
    shot(page, "studio-1-form")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url("**/studio/generations/*/")

    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = page.locator("[data-status]").first.get_attribute("data-status")
        value = int(page.locator("#job-progress progress").get_attribute("value") or 0)
        if not seen or seen[-1] != (status, value):
            seen.append((status, value))
            if status == "running" and 0 < value < 100 and not any(s == "running" for s, _ in seen[:-1]):
                shot(page, "studio-2-progress")
        if page.locator("video#player").count():
            break
        time.sleep(0.1)
    job = GenerationJob.objects.get(artist=artist)
    assert job.status == "succeeded", (job.error, seen)
    values = [v for _, v in seen]
    assert values == sorted(values) and len(set(values)) >= 2, seen  # the bar only moves forward, and it moved

    player = page.locator("video#player")
    player.wait_for()
    page.evaluate("document.querySelector('video#player').play()")
    wait_js(page, "document.querySelector('video#player').currentTime > 0", timeout=15)
    assert page.evaluate("document.querySelector('video#player').videoWidth") == job.width
    assert page.get_by_text("Provenance").is_visible()
    shot(page, "studio-3-playing")

    page.get_by_role("link", name="← Studio").click()
    assert page.locator(".gallery img").count() == 1
    shot(page, "studio-4-history")
    assert page.console_errors == []
