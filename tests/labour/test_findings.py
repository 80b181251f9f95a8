"""Findings with evidence: attachments proven by content, private, bounded; severity
re-rated with a reason the artist sees and the bounty following once; duplicates merged
into the first report, which keeps the credit."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from payments.models import LedgerEntry
from tester_platform.audit.models import AuditEvent
from tester_platform.errors import InvalidInput, InvalidTransition, NotFound
from tester_platform.labour.findings import feedback_attach, feedback_rerate
from tester_platform.labour.models import FeedbackAttachment, FeedbackReport
from tester_platform.labour.services import feedback_review, feedback_submit
from tester_platform.notifications.models import Notification
from tester_platform.policy import PolicyDenied
from tests.conftest import api_as
from tests.factories import add_staff, make_output
from tests.labour.evidence_files import jpeg_with_exif, mp4_bytes, png_bytes
from tests.labour.helpers import BOUNTIES, ledger_total


def _file(artist, program, severity="low", **extra):
    return feedback_submit(
        artist=artist,
        program=program,
        category="quality",
        severity=severity,
        title="Faces flicker",
        body="Frame 3 to 5.",
        **extra,
    )


def _net(report) -> int:
    """What the report earned: its bounty and every re-rating adjustment."""
    return ledger_total(report.artist)


def test_a_report_carries_images_and_clips_proven_by_their_content(artist, program, rate_card):
    report = _file(artist, program, attachments=[("shot.jpg", jpeg_with_exif()), ("clip.mp4", mp4_bytes())])
    image, clip = report.attachments.order_by("id")
    assert (image.kind, image.content_type, image.width, image.height) == ("image", "image/png", 40, 30)
    assert (clip.kind, clip.content_type) == ("video", "video/mp4") and 0 < clip.duration_ms <= 1000
    from django.core.files.storage import default_storage
    from PIL import Image

    stored = Image.open(default_storage.open(image.file.name))
    assert stored.format == "PNG" and not stored.getexif()  # re-encoded: no EXIF, no GPS
    assert image.file.name.startswith(f"evidence/{program.pk}/{report.pk}/")
    event = AuditEvent.objects.get(action="feedback.submitted", target_id=str(report.pk))
    assert event.data["attachments"] == [image.pk, clip.pk]


@pytest.mark.parametrize(
    "name,data",
    [
        ("photo.png", b"<html><script>alert(1)</script></html>"),
        ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200),
        ("empty.png", b""),
    ],
)
def test_a_file_that_is_not_what_it_claims_is_refused_and_nothing_is_filed(artist, program, rate_card, name, data):
    with pytest.raises(InvalidInput) as refused:
        _file(artist, program, attachments=[("fine.png", png_bytes()), (name, data)])
    assert refused.value.field == "attachments"
    assert not FeedbackReport.objects.exists() and not FeedbackAttachment.objects.exists()


def test_sizes_lengths_and_counts_are_bounded(artist, program, rate_card, settings):
    settings.EVIDENCE_IMAGE_MAX_SIDE = 16
    with pytest.raises(InvalidInput, match="at most 16 px"):
        _file(artist, program, attachments=[("big.png", png_bytes(32, 24))])
    settings.EVIDENCE_VIDEO_MAX_SECONDS = 0.2
    with pytest.raises(InvalidInput, match="at most 0.2 seconds"):
        _file(artist, program, attachments=[("long.mp4", mp4_bytes(frames=9))])
    settings.EVIDENCE_IMAGE_MAX_BYTES = settings.EVIDENCE_VIDEO_MAX_BYTES = 50
    with pytest.raises(InvalidInput, match="at most 0.0 MB"):
        _file(artist, program, attachments=[("a.png", png_bytes())])
    settings.EVIDENCE_IMAGE_MAX_BYTES = settings.EVIDENCE_VIDEO_MAX_BYTES = 10**7
    with pytest.raises(InvalidInput, match="at most 5"):
        _file(artist, program, attachments=[(f"{n}.png", png_bytes()) for n in range(6)])
    assert not FeedbackReport.objects.exists()


def test_evidence_is_private_to_the_reporter_and_the_programs_reviewers(
    client, artist, other_artist, program, moderator, other_moderator, rate_card
):
    report = _file(artist, program, attachments=[("a.png", png_bytes())])
    url = f"/labour/feedback/attachments/{report.attachments.get().pk}/"
    assert client.get(url).status_code == 302  # sign in first
    for person, status in ((artist, 200), (moderator, 200), (other_artist, 404), (other_moderator, 404)):
        client.force_login(person)
        response = client.get(url)
        assert response.status_code == status, person
        if status == 200:
            assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
            assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    client.force_login(artist)
    page = client.get(f"/labour/feedback/{report.pk}/").content.decode()
    assert f'src="{url}"' in page and "Evidence image 1" in page


def test_the_form_files_a_report_with_an_image_and_linked_generations(client, artist, program, rate_card):
    first, second = make_output(artist, program), make_output(artist, program)
    client.force_login(artist)
    response = client.post(
        "/labour/feedback/new/",
        {
            "program": program.pk,
            "generation": first.pk,
            "generations": [second.pk],
            "category": "quality",
            "severity": "medium",
            "title": "Melting hands",
            "body": "See the still.",
            "attachments": [SimpleUploadedFile("still.png", png_bytes(), content_type="image/png")],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    report = FeedbackReport.objects.get()
    assert list(report.generations.values_list("pk", flat=True)) == [second.pk]
    assert report.attachments.get().kind == "image"
    fake = client.post(
        "/labour/feedback/new/",
        {
            "program": program.pk,
            "category": "quality",
            "severity": "medium",
            "title": "x",
            "body": "y",
            "attachments": [SimpleUploadedFile("still.png", b"GIF89a-not-really", content_type="image/png")],
        },
    )
    assert fake.status_code == 400 and "neither" in fake.content.decode()
    assert FeedbackReport.objects.count() == 1


def test_the_artist_adds_evidence_while_the_report_waits(artist, other_artist, program, moderator, rate_card):
    report = _file(artist, program)
    feedback_attach(report=report, artist=artist, files=[("later.png", png_bytes())])
    assert report.attachments.count() == 1
    with pytest.raises(NotFound):
        feedback_attach(report=report, artist=other_artist, files=[("x.png", png_bytes())])
    feedback_review(report=report, reviewer=moderator, decision="accept")
    with pytest.raises(InvalidTransition):
        feedback_attach(report=report, artist=artist, files=[("late.png", png_bytes())])


def test_severity_re_rated_from_low_to_high_moves_the_bounty_once_and_the_artist_is_told_why(
    client, artist, program, moderator, rate_card, mail_now
):
    report = _file(artist, program, severity="low")
    feedback_review(report=report, reviewer=moderator, decision="accept")
    assert _net(report) == BOUNTIES["bounty_low_minor"]
    with mail_now():
        rerate = feedback_rerate(
            report=report, moderator=moderator, severity="high", reason="It reproduces on every seed; that is a high."
        )
    assert _net(report) == BOUNTIES["bounty_high_minor"]
    adjustment = LedgerEntry.objects.get(kind="adjustment")
    assert adjustment.amount_minor == BOUNTIES["bounty_high_minor"] - BOUNTIES["bounty_low_minor"]
    assert (adjustment.source_type, adjustment.source_id) == ("labour.severityrerate", str(rerate.pk))
    assert LedgerEntry.objects.filter(artist=artist).count() == 2  # the bounty and one adjustment
    with pytest.raises(InvalidInput):  # the same change again is refused: nothing posts twice
        feedback_rerate(report=report, moderator=moderator, severity="high", reason="again")
    assert LedgerEntry.objects.filter(artist=artist).count() == 2
    report.refresh_from_db()
    assert report.severity == "high"
    notice = Notification.objects.get(user=artist, kind="severity_rerated")
    assert "It reproduces on every seed" in notice.body and "€22.00" in notice.body
    event = AuditEvent.objects.get(action="feedback.severity_rerated")
    assert event.data["from"] == "low" and event.data["to"] == "high" and event.data["amount_minor"] == 2200
    client.force_login(artist)
    page = client.get(f"/labour/feedback/{report.pk}/").content.decode()
    assert "Reason: It reproduces on every seed; that is a high." in page and "Low → <strong>High</strong>" in page
    assert "Re-rate the severity" not in page  # the artist reads it; only reviewers re-rate


def test_re_rating_twice_nets_to_the_latest_severity(artist, program, moderator, rate_card):
    report = _file(artist, program, severity="low")
    feedback_review(report=report, reviewer=moderator, decision="accept")
    feedback_rerate(report=report, moderator=moderator, severity="critical", reason="Worse than we thought")
    feedback_rerate(report=report, moderator=moderator, severity="medium", reason="Only on one preset")
    assert _net(report) == BOUNTIES["bounty_medium_minor"]
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 2


def test_a_report_re_rated_before_review_is_paid_at_the_new_severity(artist, program, moderator, rate_card):
    report = _file(artist, program, severity="critical")
    feedback_rerate(report=report, moderator=moderator, severity="medium", reason="Cosmetic only")
    assert not LedgerEntry.objects.exists()
    feedback_review(report=report, reviewer=moderator, decision="accept")
    assert _net(report) == BOUNTIES["bounty_medium_minor"]


def test_re_rating_needs_a_reason_and_a_reviewer_of_the_program(artist, program, moderator, other_moderator, rate_card):
    report = _file(artist, program)
    with pytest.raises(InvalidInput):
        feedback_rerate(report=report, moderator=moderator, severity="high", reason=" ")
    with pytest.raises(NotFound):  # staff of another program do not learn it exists
        feedback_rerate(report=report, moderator=other_moderator, severity="high", reason="x")
    add_staff(artist, program, "moderator")  # an artist who also moderates
    own = _file(artist, program)
    with pytest.raises(PolicyDenied):
        feedback_rerate(report=own, moderator=artist, severity="high", reason="mine is worse")


def test_the_reviewers_page_and_the_api_re_rate(client, artist, program, moderator, rate_card):
    report = _file(artist, program, severity="low")
    client.force_login(moderator)
    assert "Re-rate the severity" in client.get(f"/labour/feedback/{report.pk}/").content.decode()
    response = client.post(
        f"/dashboard/labour/feedback/{report.pk}/rerate/", {"severity": "medium", "reason": "Visible in every clip"}
    )
    assert response.status_code == 302
    body = api_as(moderator).post(
        f"/api/v1/feedback/{report.pk}/rerate/", {"severity": "high", "reason": "Worse"}, format="json"
    )
    assert body.status_code == 200 and body.json()["severity"] == "high"
    assert [r["to_severity"] for r in body.json()["rerates"]] == ["medium", "high"]
    refused = api_as(artist).post(
        f"/api/v1/feedback/{report.pk}/rerate/", {"severity": "critical", "reason": "x"}, format="json"
    )
    assert refused.status_code == 403


def test_duplicates_merge_into_the_first_report_and_the_artist_sees_which(
    client, artist, other_artist, program, moderator, rate_card
):
    first = _file(other_artist, program, severity="high")
    later = _file(artist, program, severity="high")
    with pytest.raises(InvalidInput, match="first report keeps the credit"):
        feedback_review(report=first, reviewer=moderator, decision="duplicate", duplicate_of_id=later.pk)
    feedback_review(report=later, reviewer=moderator, decision="duplicate", duplicate_of_id=first.pk)
    feedback_review(report=first, reviewer=moderator, decision="accept")
    assert ledger_total(other_artist) == BOUNTIES["bounty_high_minor"] and ledger_total(artist) == 0
    notice = Notification.objects.get(user=artist, kind="feedback_reviewed")
    assert f"It duplicates report #{first.pk}" in notice.body
    client.force_login(artist)
    page = client.get(f"/labour/feedback/{later.pk}/").content.decode()
    assert f"report #{first.pk}, filed" in page and "the first reporter keeps the credit" in page
    client.force_login(other_artist)
    page = client.get(f"/labour/feedback/{first.pk}/").content.decode()
    assert f"later duplicates #{later.pk}" in page and "you reported it first and keep the credit" in page
    # A third report merged into the duplicate lands on the first report of the chain.
    third = _file(artist, program)
    feedback_review(report=third, reviewer=moderator, decision="duplicate", duplicate_of_id=later.pk)
    assert FeedbackReport.objects.get(pk=third.pk).duplicate_of_id == first.pk
