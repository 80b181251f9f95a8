import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tester_platform.sharing.models import ShareRequest
from tester_platform.sharing.services import share_request_create, share_request_decide, share_request_revoke
from tester_platform.sharing.tasks import send_moderator_digest
from tests.conftest import api_as
from tests.factories import enroll, make_artist, make_output, sign


@pytest.fixture
def output(artist, program):
    return make_output(artist, program)


@pytest.fixture
def share(artist, output):
    return share_request_create(artist=artist, generation_id=output.pk, caption="Kite", destination="social_media")


def test_api_create_read_decide(artist, moderator, output):
    created = api_as(artist).post(
        "/api/v1/share-requests/", {"generation": output.pk, "caption": "Kite", "destination": "press"}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "in_review" and body["due_at"] and body["public_url"] is None
    dup = api_as(artist).post(
        "/api/v1/share-requests/", {"generation": output.pk, "caption": "Again", "destination": "press"}, format="json"
    )
    assert dup.status_code == 409
    no_reason = api_as(moderator).post(
        f"/api/v1/share-requests/{body['id']}/decide/", {"decision": "reject"}, format="json"
    )
    assert no_reason.status_code == 400 and "reason_code" in no_reason.json()
    decided = api_as(moderator).post(
        f"/api/v1/share-requests/{body['id']}/decide/", {"decision": "approve"}, format="json"
    )
    assert decided.status_code == 200 and decided.json()["public_url"].endswith("/")
    assert api_as(artist).get(f"/api/v1/share-requests/{body['id']}/").json()["status"] == "approved"


def test_artists_cannot_decide_and_other_programs_moderators_cannot_either(
    share, artist, other_artist, other_moderator
):
    assert (
        api_as(artist)
        .post(f"/api/v1/share-requests/{share.pk}/decide/", {"decision": "approve"}, format="json")
        .status_code
        == 403
    )
    assert (
        api_as(other_artist)
        .post(f"/api/v1/share-requests/{share.pk}/decide/", {"decision": "approve"}, format="json")
        .status_code
        == 404
    )
    assert (
        api_as(other_moderator)
        .post(f"/api/v1/share-requests/{share.pk}/decide/", {"decision": "approve"}, format="json")
        .status_code
        == 404
    )
    assert api_as(other_artist).get(f"/api/v1/share-requests/{share.pk}/").status_code == 404
    assert ShareRequest.objects.get(pk=share.pk).status == "in_review"


def test_an_artist_cannot_request_sharing_of_another_artists_output_over_the_api(output, other_artist):
    response = api_as(other_artist).post(
        "/api/v1/share-requests/", {"generation": output.pk, "caption": "x", "destination": "press"}, format="json"
    )
    assert response.status_code == 404 and ShareRequest.objects.count() == 0


def test_public_page_and_video_follow_the_request_state(client, share, moderator, artist, program):
    share_request_decide(share_request=share, moderator=moderator, decision="approve")
    share.refresh_from_db()
    page = client.get(f"/s/{share.public_slug}/")
    assert page.status_code == 200
    assert artist.credit_name.encode() in page.content and b"Kite" in page.content
    assert f"consent record #{share.generation.consent_record_id}".encode() in page.content
    video = client.get(f"/s/{share.public_slug}/video.mp4")
    assert video.status_code == 200 and video["Content-Type"] == "video/mp4"
    share_request_revoke(share_request=share, artist=artist)
    assert client.get(f"/s/{share.public_slug}/").status_code == 410
    assert client.get(f"/s/{share.public_slug}/video.mp4").status_code == 410


def test_a_rejected_request_has_no_public_page_or_video(client, share, moderator):
    share_request_decide(share_request=share, moderator=moderator, decision="reject", reason_code="safety")
    assert client.get("/s/not-a-real-slug/").status_code == 404
    ShareRequest.objects.filter(pk=share.pk).update(public_slug="was-public")  # e.g. approved once, then rejected?
    assert client.get("/s/was-public/").status_code == 404
    assert client.get("/s/was-public/video.mp4").status_code == 404


def test_the_artist_is_emailed_each_decision_with_the_reason(share, moderator, mail_now):
    with mail_now():
        share_request_decide(
            share_request=share,
            moderator=moderator,
            decision="reject",
            reason_code="third_party_rights",
            note="The logo belongs to a brand.",
        )
    message = mail.outbox[-1]
    assert message.to == [share.artist.email]
    assert "Third-party rights" in message.body and "The logo belongs to a brand." in message.body
    assert "appeal once" in message.body


def test_moderators_get_a_digest_of_items_close_to_their_deadline(share, moderator, mail_now):
    ShareRequest.objects.filter(pk=share.pk).update(due_at=timezone.now() + timezone.timedelta(hours=1))
    with mail_now():
        assert send_moderator_digest() == 1
    assert mail.outbox[-1].to == [moderator.email] and f"#{share.pk}" in mail.outbox[-1].body


def test_artist_pages_show_the_policy_and_countdown(client, share, artist, program):
    client.force_login(artist)
    detail = client.get(f"/sharing/{share.pk}/")
    assert detail.status_code == 200 and b"data-due" in detail.content
    policy = client.get(f"/sharing/policy/{program.slug}/")
    assert b"Opinion and critique of the model are never grounds" in policy.content
    assert b"Third-party rights" in policy.content


def test_review_screen_decides_in_one_action(client, share, moderator):
    client.force_login(moderator)
    page = client.get(f"/dashboard/sharing/{share.pk}/")
    assert page.status_code == 200 and b"<video" in page.content
    response = client.post(f"/dashboard/sharing/{share.pk}/", {"decision": "reject", "reason_code": "", "note": ""})
    assert response.status_code == 400 and b"published reasons" in response.content
    response = client.post(f"/dashboard/sharing/{share.pk}/", {"decision": "reject", "reason_code": "safety"})
    assert response.status_code == 302
    assert ShareRequest.objects.get(pk=share.pk).status == "rejected"


def test_bulk_approve(client, artist, program, moderator):
    ids = [
        share_request_create(
            artist=artist, generation_id=make_output(artist, program).pk, caption=f"c{i}", destination="portfolio"
        ).pk
        for i in range(3)
    ]
    client.force_login(moderator)
    client.post("/dashboard/sharing/bulk-approve/", {"ids": ids[:2]})
    assert list(ShareRequest.objects.order_by("pk").values_list("status", flat=True)) == [
        "approved",
        "approved",
        "in_review",
    ]


def test_artists_and_other_moderators_cannot_use_the_dashboard(client, share, artist, other_moderator):
    client.force_login(artist)
    assert client.get("/dashboard/sharing/").status_code == 403
    assert client.get(f"/dashboard/sharing/{share.pk}/").status_code == 403
    client.force_login(other_moderator)
    assert client.get(f"/dashboard/sharing/{share.pk}/").status_code == 404
    assert b"Kite" not in client.get("/dashboard/sharing/").content


def _fill_queue(program, count):
    artists = [make_artist(email=f"q{n}-{count}@example.test") for n in range(5)]
    for a in artists:
        enroll(a, program)
        sign(a, program)
    outputs = [make_output(artists[0], program, frames=1, width=16, height=16)]
    from django.core.files.base import ContentFile  # noqa: F401  (reuse one file for speed)

    from generation.models import GenerationJob

    template = outputs[0]
    jobs = []
    for n in range(count):
        a = artists[n % 5]
        jobs.append(
            GenerationJob(
                artist=a,
                program=program,
                enrollment=a.enrollments.get(),
                consent_record=a.consent_records.get(),
                training_use=False,
                mode="text_to_video",
                prompt=f"p{n}",
                seed=n,
                width=16,
                height=16,
                num_frames=1,
                fps=16,
                steps=1,
                duration_seconds=0.1,
                aspect_ratio="1:1",
                resolution="preview",
                model_profile="wan-tiny",
                status="succeeded",
                video=template.video.name,
                thumbnail=template.thumbnail.name,
            )
        )
    jobs = GenerationJob.objects.bulk_create(jobs)
    now = timezone.now()
    ShareRequest.objects.bulk_create(
        [
            ShareRequest(
                generation=j,
                artist=j.artist,
                program=program,
                caption=f"c{j.pk}",
                destination="portfolio",
                status="in_review",
                submitted_at=now,
                due_at=now + timezone.timedelta(hours=n),
                current_step=2,
            )
            for n, j in enumerate(jobs)
        ]
    )


def test_the_queue_page_runs_the_same_number_of_queries_with_5_and_500_requests(client, program, moderator, settings):
    settings.PAGE_CACHE_SECONDS = 0  # count what a render costs, not a cache hit
    client.force_login(moderator)
    _fill_queue(program, 5)
    client.get("/dashboard/sharing/")  # warm: the nav's unread count is cached per person after the first page
    with CaptureQueriesContext(connection) as small:
        assert client.get("/dashboard/sharing/").status_code == 200
    _fill_queue(program, 495)
    with CaptureQueriesContext(connection) as large:
        page = client.get("/dashboard/sharing/")
    assert page.status_code == 200 and page.content.count(b'name="ids"') == 50
    assert len(small) == len(large), [q["sql"] for q in large.captured_queries]
