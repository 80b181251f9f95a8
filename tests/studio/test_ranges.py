"""Video with HTTP Range, the same through every door (tester_platform.common.ranged): the
signed media view, the public share video and the API's download answer 206 with the
slice, 416 with the size when the range is past the end, and 200 with Accept-Ranges
without one."""

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from generation.models import GenerationJob
from tester_platform.common.ranged import parse_range
from tester_platform.sharing.services import share_request_create, share_request_decide
from tester_platform.studio.media import signed_media_url
from tester_platform.studio.services import generation_image_upload
from tests.conftest import api_as
from tests.factories import make_output

pytestmark = pytest.mark.django_db


@pytest.fixture
def output(artist, program):
    return make_output(artist, program)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _whole(job) -> bytes:
    with default_storage.open(job.video.name, "rb") as handle:
        return handle.read()


def _public_video_url(artist, moderator, output) -> str:
    share = share_request_create(artist=artist, generation_id=output.pk, caption="c", destination="press")
    share = share_request_decide(share_request=share, moderator=moderator, decision="approve")
    return f"/s/{share.public_slug}/video.mp4"


@pytest.fixture(params=["signed", "public", "api"])
def video_door(request, client, artist, moderator, output):
    """(get(url, **headers), url) for each way a video leaves the platform."""
    if request.param == "signed":
        client.force_login(artist)
        return client.get, signed_media_url(job=output, kind="video", user=artist)
    if request.param == "public":
        return client.get, _public_video_url(artist, moderator, output)
    return api_as(artist).get, f"/api/v1/generations/{output.pk}/download/"


def test_a_first_range_answers_206_with_exactly_those_bytes(video_door, output):
    get, url = video_door
    whole = _whole(output)
    response = get(url, HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Range"] == f"bytes 0-99/{len(whole)}"
    assert response["Content-Length"] == "100" and response["Content-Type"] == "video/mp4"
    assert _body(response) == whole[:100]


def test_a_suffix_and_an_open_range_work(video_door, output):
    get, url = video_door
    whole = _whole(output)
    size = len(whole)
    suffix = get(url, HTTP_RANGE="bytes=-50")
    assert suffix.status_code == 206 and suffix["Content-Range"] == f"bytes {size - 50}-{size - 1}/{size}"
    assert _body(suffix) == whole[-50:]
    open_ended = get(url, HTTP_RANGE="bytes=100-")
    assert open_ended.status_code == 206 and open_ended["Content-Range"] == f"bytes 100-{size - 1}/{size}"
    assert _body(open_ended) == whole[100:]
    past_the_end = get(url, HTTP_RANGE=f"bytes={size - 10}-{size + 1000}")
    assert past_the_end.status_code == 206 and _body(past_the_end) == whole[-10:]


def test_an_unsatisfiable_range_answers_416_with_the_size(video_door, output):
    get, url = video_door
    size = len(_whole(output))
    response = get(url, HTTP_RANGE=f"bytes={size}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"


def test_without_a_range_the_whole_file_and_accept_ranges(video_door, output):
    get, url = video_door
    response = get(url)
    assert response.status_code == 200 and response["Accept-Ranges"] == "bytes"
    assert _body(response) == _whole(output)


def test_several_ranges_or_bad_syntax_get_the_whole_file():
    assert parse_range("bytes=0-1,5-9", 100) is None
    assert parse_range("items=0-1", 100) is None
    assert parse_range("bytes=9-1", 100) is None
    assert parse_range("bytes=-0", 100) is False
    assert parse_range("bytes=-500", 100) == (0, 99)


def test_the_api_download_is_the_signed_mp4_as_an_attachment(artist, output):
    response = api_as(artist).get(f"/api/v1/generations/{output.pk}/download/")
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    assert response["Content-Disposition"] == f'attachment; filename="atelier-{output.pk}.mp4"'
    assert _body(response) == _whole(output)


def test_another_artists_download_is_a_404_problem(other_artist, output):
    for path in ("download", "input-image"):
        response = api_as(other_artist).get(f"/api/v1/generations/{output.pk}/{path}/")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json" and response.json()["status"] == 404


def test_a_token_without_the_read_scope_cannot_download(artist, output):
    from tester_platform.api.models import ApiToken
    from tester_platform.api.services import token_create

    token, raw = token_create(user=artist, name="generate only")
    ApiToken.objects.filter(pk=token.pk).update(scopes=[ApiToken.Scope.GENERATE])
    response = api_as(None).get(f"/api/v1/generations/{output.pk}/download/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403


def test_the_input_still_downloads_and_a_text_only_job_has_none(artist, program, output):
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), (10, 120, 200)).save(buf, format="PNG")
    image = generation_image_upload(
        artist=artist, program=program, data=buf.getvalue(), filename="s.png", rights_attested=True
    )
    api = api_as(artist)
    assert api.get(f"/api/v1/generations/{output.pk}/input-image/").status_code == 404
    GenerationJob.objects.filter(pk=output.pk).update(input_image=image)
    response = api.get(f"/api/v1/generations/{output.pk}/input-image/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f'attachment; filename="atelier-{output.pk}.png"'
    with default_storage.open(image.file.name, "rb") as handle:
        assert _body(response) == handle.read()
