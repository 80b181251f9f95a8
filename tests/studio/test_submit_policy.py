"""The platform's submit policy in front of the engine: who may generate what, and bad
input that is refused with a clear 4xx while nothing is created or queued."""

import pytest

from generation.models import GenerationJob
from tester_platform.consent.services import consent_withdraw
from tester_platform.programs.models import Enrollment, Program
from tests.conftest import api_as
from tests.factories import ConsentDocumentFactory
from tests.studio.conftest import queued_messages

pytestmark = pytest.mark.usefixtures("empty_gpu_queue")

GOOD = {
    "mode": "text_to_video",
    "prompt": "a paper boat on a river",
    "duration_seconds": 2,
    "aspect_ratio": "16:9",
    "resolution": "preview",
    "seed": 7,
}


def post(client, program, django_capture_on_commit_callbacks, **overrides):
    # Run on-commit callbacks, so an accidental enqueue would really reach the broker.
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/api/v1/generations/", {**GOOD, "program": program.pk, **overrides}, format="json")


def test_a_valid_submission_is_queued_with_its_consent_record(artist, program, django_capture_on_commit_callbacks):
    response = post(api_as(artist), program, django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued" and body["seed"] == 7
    job = GenerationJob.objects.get(pk=body["id"])
    assert job.consent_record == artist.consent_records.get()
    assert (job.width % 16, job.height % 16, (job.num_frames - 1) % 4) == (0, 0, 0)
    assert queued_messages() == 1


def test_a_random_seed_is_recorded(artist, program, django_capture_on_commit_callbacks):
    body = post(api_as(artist), program, django_capture_on_commit_callbacks, seed=None).json()
    assert isinstance(GenerationJob.objects.get(pk=body["id"]).seed, int)


BAD_INPUT = [
    ({"mode": "dream"}, 400, "mode"),
    ({"aspect_ratio": "5:4"}, 400, "aspect_ratio"),
    ({"resolution": "8k"}, 400, "resolution"),
    ({"duration_seconds": 0}, 400, "duration_seconds"),
    ({"duration_seconds": 11}, 400, "duration_seconds"),
    ({"prompt": "x" * 20_000}, 400, "prompt"),
    ({"prompt": "   "}, 400, "prompt"),
    ({"resolution": "1080p"}, 400, "resolution"),  # above the program's maximum
    ({"mode": "variation"}, 400, "source_generation"),
    ({"seed": -1}, 400, "seed"),
]


@pytest.mark.parametrize("overrides,status,field", BAD_INPUT, ids=[str(b[0])[:40] for b in BAD_INPUT])
def test_bad_parameters_get_field_messages_and_nothing_is_queued(
    artist, program, django_capture_on_commit_callbacks, overrides, status, field
):
    response = post(api_as(artist), program, django_capture_on_commit_callbacks, **overrides)
    assert response.status_code == status, response.content
    assert field in response.json()
    assert GenerationJob.objects.count() == 0 and queued_messages() == 0


def test_without_consent_it_is_403(artist, program, django_capture_on_commit_callbacks):
    consent_withdraw(artist=artist, program=program)
    response = post(api_as(artist), program, django_capture_on_commit_callbacks)
    assert response.status_code == 403 and response.json()["code"] == "consent_required"
    assert GenerationJob.objects.count() == 0 and queued_messages() == 0


def test_a_new_consent_version_blocks_until_signed(artist, program, django_capture_on_commit_callbacks):
    ConsentDocumentFactory(program=program, version=2)
    assert post(api_as(artist), program, django_capture_on_commit_callbacks).status_code == 403


def test_a_program_one_is_not_enrolled_in_is_403(artist, other_program, django_capture_on_commit_callbacks):
    response = post(api_as(artist), other_program, django_capture_on_commit_callbacks)
    assert response.status_code == 403
    assert GenerationJob.objects.count() == 0 and queued_messages() == 0


def test_a_suspended_enrollment_is_403(artist, program, django_capture_on_commit_callbacks):
    Enrollment.objects.filter(artist=artist).update(status=Enrollment.Status.SUSPENDED)
    assert post(api_as(artist), program, django_capture_on_commit_callbacks).json()["code"] == "suspended"


def test_a_paused_program_is_409(artist, program, django_capture_on_commit_callbacks):
    Program.objects.filter(pk=program.pk).update(status=Program.Status.PAUSED)
    response = post(api_as(artist), program, django_capture_on_commit_callbacks)
    assert response.status_code == 409 and response.json()["code"] == "program_paused"
    assert GenerationJob.objects.count() == 0 and queued_messages() == 0


def test_over_quota_is_429(artist, program, django_capture_on_commit_callbacks):
    Program.objects.filter(pk=program.pk).update(max_concurrent_jobs=1)
    client = api_as(artist)
    assert post(client, program, django_capture_on_commit_callbacks).status_code == 201
    second = post(client, program, django_capture_on_commit_callbacks)
    assert second.status_code == 429 and "limit is 1" in str(second.json())
    Program.objects.filter(pk=program.pk).update(max_concurrent_jobs=5, daily_compute_seconds=0)
    assert post(client, program, django_capture_on_commit_callbacks).status_code == 429
    assert GenerationJob.objects.count() == 1 and queued_messages() == 1


def test_a_source_of_another_artist_or_a_failed_one_is_refused(
    artist, other_artist, program, django_capture_on_commit_callbacks
):
    theirs = post(api_as(other_artist), program, django_capture_on_commit_callbacks).json()["id"]
    GenerationJob.objects.filter(pk=theirs).update(status="succeeded")
    mine = post(api_as(artist), program, django_capture_on_commit_callbacks).json()["id"]
    GenerationJob.objects.filter(pk=mine).update(status="failed")
    before = (GenerationJob.objects.count(), queued_messages())
    for source in (theirs, mine):
        response = post(
            api_as(artist), program, django_capture_on_commit_callbacks, mode="variation", source_generation=source
        )
        assert response.status_code == 400 and "source_generation" in response.json()
    assert (GenerationJob.objects.count(), queued_messages()) == before


def test_another_artist_gets_404_on_the_job_and_cannot_cancel_it(
    artist, other_artist, program, django_capture_on_commit_callbacks
):
    job_id = post(api_as(artist), program, django_capture_on_commit_callbacks).json()["id"]
    assert api_as(other_artist).get(f"/api/v1/generations/{job_id}/").status_code == 404
    assert api_as(other_artist).post(f"/api/v1/generations/{job_id}/cancel/").status_code == 404
    assert api_as(other_artist).get("/api/v1/generations/").json()["count"] == 0
    assert api_as(artist).get("/api/v1/generations/").json()["count"] == 1


def test_cancelling_a_queued_job_releases_its_slot(artist, program, django_capture_on_commit_callbacks):
    Program.objects.filter(pk=program.pk).update(max_concurrent_jobs=1)
    client = api_as(artist)
    job_id = post(client, program, django_capture_on_commit_callbacks).json()["id"]
    assert client.post(f"/api/v1/generations/{job_id}/cancel/").json()["status"] == "cancelled"
    assert client.post(f"/api/v1/generations/{job_id}/cancel/").status_code == 409
    assert post(client, program, django_capture_on_commit_callbacks).status_code == 201


def test_usage_endpoint_shows_quota_left(artist, program):
    body = api_as(artist).get(f"/api/v1/usage/?program={program.pk}&from=2026-01-01").json()
    assert body["quota"][0]["compute_seconds_left_today"] == program.daily_compute_seconds
    assert body["totals"]["jobs"] == 0
    assert api_as(artist).get("/api/v1/usage/?program=999999").status_code == 404
    assert api_as(artist).get("/api/v1/usage/?from=yesterday").status_code == 400


def test_the_studio_page_refuses_a_paused_program_with_a_message(client, artist, program):
    Program.objects.filter(pk=program.pk).update(status=Program.Status.PAUSED)
    client.force_login(artist)
    response = client.post("/studio/", {**GOOD, "program": program.pk})
    assert response.status_code == 409 and b"paused" in response.content
    assert GenerationJob.objects.count() == 0


def test_the_studio_form_shows_field_errors(client, artist, program):
    client.force_login(artist)
    response = client.post("/studio/", {**GOOD, "program": program.pk, "duration_seconds": 11})
    # the form offers what the program allows (5 s here), not what the model could make
    assert response.status_code == 400 and b"less than or equal to 5" in response.content


def test_the_studio_form_greys_out_what_the_program_or_its_model_cannot_make(client, artist, program):
    program.max_resolution, program.max_duration_seconds = "480p", 10
    program.save(update_fields=["max_resolution", "max_duration_seconds"])  # a save retires cached pages
    client.force_login(artist)
    page = client.get("/studio/").content.decode()
    assert '<option value="480p">480p</option>' in page
    assert "720p (not available: this program allows up to 480p)" in page
    assert 'value="720p" disabled' in page or "disabled" in page.split('value="720p"')[1].split(">")[0]
    assert 'max="10"' in page
    assert "demo model with random weights: expect noise" in page
    program.max_resolution = "1080p"
    program.save(update_fields=["max_resolution"])
    page = client.get("/studio/").content.decode()
    assert "1080p (not available: the model Wan 2.1 tiny (random weights, CPU demo) makes at most 848×480 px)" in page
    response = client.post("/studio/", {**GOOD, "program": program.pk, "resolution": "720p"})
    assert response.status_code == 400 and b"720p is not available" in response.content
    assert GenerationJob.objects.count() == 0
