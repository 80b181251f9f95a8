"""Every link the API returns is absolute (scheme and host as the client reached us), so a
client follows it as it is: signed media, public share pages, ledger sources, tasks."""

import pytest

from tester_platform.sharing.services import share_request_create, share_request_decide
from tests.conftest import api_as
from tests.factories import make_output
from tests.finance.helpers import accept_labour
from tests.labour.helpers import make_rate_card, publish_task

pytestmark = pytest.mark.django_db


def _links(value, key=""):
    if isinstance(value, dict):
        for name, child in value.items():
            yield from _links(child, name)
    elif isinstance(value, list):
        for child in value:
            yield from _links(child, key)
    elif isinstance(value, str) and (key.endswith("url") or key.startswith("report_")):
        yield key, value


def test_every_link_in_the_artists_answers_is_absolute(artist, program, moderator, manager, settings):
    settings.ALLOWED_HOSTS = ["atelier.example", "testserver"]
    make_rate_card(program)
    job = make_output(artist, program)
    share = share_request_create(artist=artist, generation_id=job.pk, caption="c", destination="portfolio")
    share_request_decide(share_request=share, moderator=moderator, decision="approve")
    accept_labour(artist, program, moderator)
    publish_task(program, manager)
    client = api_as(artist)
    found = {}
    for url in (
        "/api/v1/generations/",
        f"/api/v1/generations/{job.pk}/",
        "/api/v1/share-requests/",
        "/api/v1/earnings/",
        "/api/v1/tasks/",
    ):
        response = client.get(url, HTTP_HOST="atelier.example")
        assert response.status_code == 200, (url, response.content)
        for key, link in _links(response.json()):
            found[key] = link
            assert link.startswith("http://atelier.example/"), (url, key, link)
    # what this test is about was really there
    assert {"video_url", "thumbnail_url", "public_url", "url"} <= set(found), found
    client.force_login(artist)  # the signed link is also checked against the signed-in user
    assert client.get(found["video_url"].removeprefix("http://atelier.example")).status_code == 200
