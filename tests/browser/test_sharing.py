import pytest

from tests.browser.conftest import sign_in, wait_js
from tests.factories import (
    ConsentDocumentFactory,
    ProgramFactory,
    UserFactory,
    add_staff,
    enroll,
    make_artist,
    make_output,
    sign,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_request_approve_and_public_page_plays(live_server, browser, shot):
    program = ProgramFactory(slug="share", name="Share Program")
    ConsentDocumentFactory(program=program)
    artist = make_artist(email="sharer@example.test", display_name="Noor")
    enroll(artist, program)
    sign(artist, program, training_use=True)
    job = make_output(artist, program, frames=17, width=96, height=64)
    moderator = UserFactory(email="judge@example.test", roles=["moderator"])
    add_staff(moderator, program, "moderator")

    artist_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = artist_ctx.new_page()
    sign_in(page, live_server, "sharer@example.test")
    page.goto(f"{live_server.url}/studio/generations/{job.pk}/")
    page.get_by_role("link", name="Request to share this video").click()
    page.get_by_label("Caption").fill("Desert bloom, a study")
    page.get_by_label("Destination").select_option("social_media")
    assert page.get_by_text("Opinion and critique of the model are never grounds").is_visible()
    page.get_by_role("button", name="Send for review").click()
    page.wait_for_url("**/sharing/*/")
    assert page.locator("[data-share-status]").get_attribute("data-share-status") == "in_review"
    assert "due in" in page.locator("time[data-due]").inner_text()
    shot(page, "sharing-1-requested")

    mod_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    mod = mod_ctx.new_page()
    sign_in(mod, live_server, "judge@example.test")
    mod.get_by_role("link", name="Moderation").click()
    assert mod.get_by_text("Desert bloom").is_visible()
    shot(mod, "moderation-1-queue")
    mod.get_by_role("link", name="Desert bloom").click()
    wait_js(mod, "document.querySelector('video#player') && document.querySelector('video#player').readyState >= 2")
    shot(mod, "moderation-2-review")
    mod.keyboard.press("a")  # keyboard shortcut picks "Approve"
    assert mod.get_by_label("Approve").is_checked()
    mod.get_by_role("button", name="Record decision").click()
    mod.wait_for_url("**/dashboard/sharing/")

    page.reload()
    assert page.locator("[data-share-status]").get_attribute("data-share-status") == "approved"
    shot(page, "sharing-2-approved")
    page.get_by_role("link", name="/s/").click()
    page.wait_for_url("**/s/*/")
    assert page.get_by_text("By Noor").is_visible()
    assert page.get_by_text("allowed by the artist").is_visible()
    page.evaluate("document.querySelector('video#player').play()")
    wait_js(page, "document.querySelector('video#player').currentTime > 0", timeout=15)
    shot(page, "sharing-3-public-page")
    artist_ctx.close()
    mod_ctx.close()
