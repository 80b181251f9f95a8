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
