"""Production media serving (settings.MEDIA_SERVE): after Django's own permission check,
`x-accel` hands the file to nginx with X-Accel-Redirect (empty body, nginx answers Range),
`storage-url` redirects to the storage's signed URL, and `python` (the default) streams it.
Each door follows the mode: the signed studio link, the public share video and the API."""

import os
import subprocess
import sys

import pytest
from django.core.files.storage import default_storage

from tester_platform.common.ranged import SIGNED_URL_SECONDS
from tester_platform.studio.media import signed_media_url
from tests.conftest import api_as
from tests.factories import make_output
from tests.studio.test_ranges import _body, _public_video_url, _whole

pytestmark = pytest.mark.django_db


@pytest.fixture
def output(artist, program):
    return make_output(artist, program)


@pytest.fixture
def doors(client, artist, moderator, output):
    """(name, GET) for each door to the same video, as its artist or the public."""
    public = _public_video_url(artist, moderator, output)
    client.force_login(artist)
    signed = signed_media_url(job=output, kind="video", user=artist)
    return [
        ("signed", lambda **h: client.get(signed, **h)),
        ("public", lambda **h: client.get(public, **h)),
        ("api", lambda **h: api_as(artist).get(f"/api/v1/generations/{output.pk}/download/", **h)),
    ]


def test_python_is_the_default_and_streams_the_file(doors, output, settings):
    assert settings.MEDIA_SERVE == "python"
    for name, get in doors:
        response = get(HTTP_RANGE="bytes=0-99")
        assert response.status_code == 206 and _body(response) == _whole(output)[:100], name
        assert "X-Accel-Redirect" not in response
    # a client may ask for the file's own type (DRF alone would answer 406)
    asked = dict(doors)["api"](HTTP_ACCEPT="video/mp4")
    assert asked.status_code == 200 and asked["Content-Type"] == "video/mp4"


def test_x_accel_hands_the_file_to_the_web_server(doors, output, settings):
    settings.MEDIA_SERVE = "x-accel"
    for name, get in doors:
        response = get(HTTP_RANGE="bytes=0-99")  # nginx answers the range, not Django
        assert response.status_code == 200 and _body(response) == b"", name
        assert response["X-Accel-Redirect"] == f"/_protected_media/{output.video.name}", name
        assert response["Content-Type"] == "video/mp4" and response["Accept-Ranges"] == "bytes"
    api = dict(doors)["api"]()
    assert api["Content-Disposition"] == f'attachment; filename="atelier-{output.pk}.mp4"'
    assert api["Cache-Control"] == "private, max-age=600"
    assert dict(doors)["public"]()["Cache-Control"] == "public, max-age=60"


def test_x_accel_still_checks_who_asks_first(output, other_artist, settings):
    settings.MEDIA_SERVE = "x-accel"
    settings.MEDIA_ACCEL_PREFIX = "/internal-media/"
    refused = api_as(other_artist).get(f"/api/v1/generations/{output.pk}/download/")
    assert refused.status_code == 404 and "X-Accel-Redirect" not in refused
    owner = api_as(output.artist).get(f"/api/v1/generations/{output.pk}/download/")
    assert owner["X-Accel-Redirect"] == f"/internal-media/{output.video.name}"


def test_storage_url_redirects_to_the_backends_signed_url(doors, output, settings, monkeypatch):
    settings.MEDIA_SERVE = "storage-url"
    asked = []

    def presigned(name, parameters=None, expire=None):  # django-storages' S3Storage.url signature
        asked.append((name, parameters, expire))
        return f"https://bucket.example/{name}?X-Amz-Expires={expire}&X-Amz-Signature=abc"

    monkeypatch.setattr(default_storage, "url", presigned)
    for name, get in doors:
        response = get()
        assert response.status_code == 302, name
        assert response["Location"].startswith(f"https://bucket.example/{output.video.name}?"), name
        assert response["Cache-Control"] == "private, no-store"
    api_name, api_parameters, expire = asked[2]
    assert api_name == output.video.name and expire == SIGNED_URL_SECONDS
    assert api_parameters == {
        "ResponseContentType": "video/mp4",
        "ResponseContentDisposition": f'attachment; filename="atelier-{output.pk}.mp4"',
    }


def test_storage_url_is_refused_at_start_without_signed_urls():
    env = {**os.environ, "MEDIA_SERVE": "storage-url", "AWS_STORAGE_BUCKET_NAME": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", "import tester_platform.settings"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "MEDIA_SERVE=storage-url needs S3" in result.stderr
