"""axe-core (bundled with axe-playwright-python) over the main pages in Chromium: no
serious or critical accessibility violations."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from tester_platform.sharing.services import share_request_create, share_request_decide
from tests.browser.conftest import sign_in
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


def serious(page):
    results = Axe().run(page)
    assert len(results.response["passes"]) > 10  # axe really ran its rules on this page
    return [
        (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_main_pages_have_no_serious_accessibility_violations(live_server, browser):
    program = ProgramFactory(slug="a11y", name="A11y Program")
    ConsentDocumentFactory(program=program)
    artist = make_artist(email="a11y@example.test", display_name="Ada")
    enroll(artist, program)
    sign(artist, program)
    job = make_output(artist, program)
    moderator = UserFactory(email="a11y-mod@example.test", roles=["moderator"])
    add_staff(moderator, program, "moderator")
    share = share_request_create(artist=artist, generation_id=job.pk, caption="A study", destination="press")
    approved = share_request_create(
        artist=artist, generation_id=make_output(artist, program).pk, caption="Public", destination="portfolio"
    )
    approved = share_request_decide(share_request=approved, moderator=moderator, decision="approve")

    found = {}
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    found["login"] = serious(page)
    sign_in(page, live_server, "a11y@example.test")
    for name, path in [
        ("dashboard", "/"),
        ("consent", "/programs/a11y/consent/"),
        ("studio", "/studio/"),
        ("generation", f"/studio/generations/{job.pk}/"),
        ("share request", f"/sharing/{share.pk}/"),
        ("earnings", "/labour/earnings/"),
        ("tokens", "/account/tokens/"),
        ("public share", f"/s/{approved.public_slug}/"),
    ]:
        page.goto(live_server.url + path)
        found[name] = serious(page)
    context.close()
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server, "a11y-mod@example.test")
    for name, path in [
        ("moderation queue", "/dashboard/sharing/"),
        ("review", f"/dashboard/sharing/{share.pk}/"),
        ("labour queue", "/dashboard/labour/"),
    ]:
        page.goto(live_server.url + path)
        found[name] = serious(page)
    context.close()
    assert not {k: v for k, v in found.items() if v}, found
