"""The player seeks: the public share page's <video> asks for byte ranges and gets 206
slices (tester_platform/common/ranged.py). In tests/browser so it shares the one Chromium
of the session (a second sync Playwright in one process refuses to start)."""

import pytest

from tests.factories import make_output
from tests.studio.test_ranges import _public_video_url


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_chromium_seeks_in_the_public_player(live_server, browser):
    from tester_platform.accounts.roles import MODERATOR
    from tests.browser.conftest import wait_js
    from tests.factories import (
        ConsentDocumentFactory,
        ProgramFactory,
        UserFactory,
        add_staff,
        enroll,
        make_artist,
        sign,
    )

    program = ProgramFactory(slug="seek", name="Seek Program")
    ConsentDocumentFactory(program=program)
    artist = make_artist(email="seeker@example.test")
    enroll(artist, program)
    sign(artist, program)
    moderator = UserFactory(email="seek-mod@example.test", roles=[MODERATOR])
    add_staff(moderator, program, "moderator")
    job = make_output(artist, program, frames=48, width=96, height=64)  # 3 s at 16 fps
    video_url = _public_video_url(artist, moderator, job)
    context = browser.new_context()
    page = context.new_page()
    statuses = []
    page.on("response", lambda r: r.url.endswith(video_url) and statuses.append(r.status))
    try:
        page.goto(f"{live_server.url}{video_url.rsplit('/', 1)[0]}/")
        wait_js(page, "document.querySelector('video').readyState >= 1")
        page.evaluate(
            "window.__seeked = false; const v = document.querySelector('video'); v.pause();"
            "v.addEventListener('seeked', () => { window.__seeked = true; }); v.currentTime = 2.0"
        )
        wait_js(page, "window.__seeked === true")
        assert abs(page.evaluate("document.querySelector('video').currentTime") - 2.0) < 0.2
        assert 206 in statuses  # the player asked for ranges and got slices
    finally:
        context.close()
