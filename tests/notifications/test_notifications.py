"""One notification service: every decision about an artist is an inbox item and (unless
switched off) one multipart email whose links point at the address the site serves on."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from payments.models import ConnectedAccount, Payout, PayoutRun
from tester_platform.access.services import token_flag_and_suspend
from tester_platform.api.services import token_create
from tester_platform.audit.models import AuditEvent
from tester_platform.consent.services import consent_document_draft, consent_document_publish
from tester_platform.finance.services import _audit_payout_change
from tester_platform.labour.services import feedback_review, feedback_submit, time_entry_review, time_entry_submit
from tester_platform.notifications.models import EmailPreference, Kind, Notification
from tester_platform.notifications.services import (
    announcement_publish,
    email_preferences_set,
    notification_email_send,
    notifications_resend_pending,
    notify,
)
from tester_platform.programs.models import Enrollment
from tester_platform.programs.services import enrollment_reinstate, enrollment_suspend, program_set_paused
from tester_platform.sharing.models import ShareRequest
from tester_platform.sharing.services import (
    share_request_create,
    share_request_decide,
    share_requests_resolve_overdue,
)
from tests.factories import make_output
from tests.labour.helpers import make_rate_card

SERVING = "http://127.0.0.1:8765"


@pytest.fixture(autouse=True)
def _serving_address(settings):
    settings.SITE_URL = SERVING


@pytest.fixture
def world(artist, program, moderator, manager):
    make_rate_card(program)
    return {"artist": artist, "program": program, "moderator": moderator, "manager": manager}


def _payout(w, status):
    artist = w["artist"]
    account = ConnectedAccount.objects.filter(artist=artist).first() or ConnectedAccount.objects.create(
        artist=artist, stripe_account_id=f"acct_{uuid.uuid4().hex[:10]}", details_submitted=True, payouts_enabled=True
    )
    run = PayoutRun.objects.create(
        program=w["program"], period_end=timezone.localdate(), as_of=timezone.now(), status=PayoutRun.Status.DONE
    )
    payout = Payout.objects.create(
        run=run,
        artist=artist,
        connected_account=account,
        amount_minor=4200,
        currency="EUR",
        status=Payout.Status.PENDING,
        idempotency_key=uuid.uuid4().hex,
    )
    old, payout.status = payout.status, status
    if status == Payout.Status.BANK_FAILED:
        payout.failure_reason = "The bank account's owner's name doesn't match."
    payout.save()
    _audit_payout_change(payout, old, via="test")


def _share(w):
    return share_request_create(
        artist=w["artist"], generation_id=make_output(w["artist"], w["program"]).pk, caption="Kite", destination="press"
    )


def _overdue(w):
    share = _share(w)
    ShareRequest.objects.filter(pk=share.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))
    share_requests_resolve_overdue()


def _feedback(w):
    report = feedback_submit(
        artist=w["artist"], program=w["program"], category="bug", severity="low", title="Hands melt", body="Frame 5."
    )
    feedback_review(report=report, reviewer=w["moderator"], decision="reject", reason="Can't reproduce, it's fine")


def _time(w):
    entry = time_entry_submit(
        artist=w["artist"], program=w["program"], date=timezone.localdate(), minutes=30, description="Prompt sweep"
    )
    time_entry_review(entry=entry, reviewer=w["moderator"], decision="accept")


def _reinstated(w):
    enrollment = Enrollment.objects.get(artist=w["artist"], program=w["program"])
    enrollment_suspend(enrollment=enrollment, actor=w["manager"], reason="Too many jobs")
    enrollment_reinstate(enrollment=enrollment, actor=w["manager"], note="Sorted")


def _consent(w):
    document = consent_document_draft(program=w["program"], actor=w["manager"], title="v2", body="New terms")
    consent_document_publish(document=document, actor=w["manager"])


def _resumed(w):
    program_set_paused(program=w["program"], actor=w["manager"], paused=True, reason="Model swap")
    program_set_paused(program=w["program"], actor=w["manager"], paused=False)


def _rerated(w):
    from tester_platform.labour.findings import feedback_rerate

    report = feedback_submit(
        artist=w["artist"], program=w["program"], category="bug", severity="low", title="Hands melt", body="Frame 5."
    )
    feedback_review(report=report, reviewer=w["moderator"], decision="accept")
    feedback_rerate(report=report, moderator=w["moderator"], severity="high", reason="Every seed shows it")


def _task_reviewed(w, decision):
    from tester_platform.labour.assignments import assignment_review, assignment_submit, assignment_take
    from tests.labour.helpers import publish_task

    assignment = assignment_take(task=publish_task(w["program"], w["manager"]), artist=w["artist"])
    assignment_submit(assignment=assignment, artist=w["artist"], note="Tried 20 prompts")
    assignment_review(
        assignment=assignment,
        reviewer=w["moderator"],
        decision=decision,
        reason="" if decision == "accept" else "Say which prompts",
    )


DECISIONS = {
    "severity re-rated": (Kind.SEVERITY_RERATED, _rerated),
    "task accepted": (Kind.TASK_REVIEWED, lambda w: _task_reviewed(w, "accept")),
    "task returned": (Kind.TASK_REVIEWED, lambda w: _task_reviewed(w, "return")),
    "task published": (
        Kind.TASK_PUBLISHED,
        lambda w: __import__("tests.labour.helpers", fromlist=["x"]).publish_task(w["program"], w["manager"]),
    ),
    "share approved": (
        Kind.SHARE_DECIDED,
        lambda w: share_request_decide(share_request=_share(w), moderator=w["moderator"], decision="approve"),
    ),
    "share rejected": (
        Kind.SHARE_DECIDED,
        lambda w: share_request_decide(
            share_request=_share(w),
            moderator=w["moderator"],
            decision="reject",
            reason_code="third_party_rights",
            note="The artist's logo isn't yours",
        ),
    ),
    "share auto-approved": (Kind.SHARE_DECIDED, _overdue),
    "feedback reviewed": (Kind.FEEDBACK_REVIEWED, _feedback),
    "time reviewed": (Kind.TIME_REVIEWED, _time),
    "payout sent": (Kind.PAYOUT_SENT, lambda w: _payout(w, Payout.Status.SENT)),
    "payout arrived": (Kind.PAYOUT_ARRIVED, lambda w: _payout(w, Payout.Status.ARRIVED)),
    "payout failed": (Kind.PAYOUT_FAILED, lambda w: _payout(w, Payout.Status.BANK_FAILED)),
    "program paused": (
        Kind.PROGRAM_PAUSED,
        lambda w: program_set_paused(program=w["program"], actor=w["manager"], paused=True, reason="Model swap"),
    ),
    "program resumed": (Kind.PROGRAM_RESUMED, _resumed),
    "enrollment suspended": (
        Kind.ENROLLMENT_SUSPENDED,
        lambda w: enrollment_suspend(
            enrollment=Enrollment.objects.get(artist=w["artist"], program=w["program"]),
            actor=w["manager"],
            reason="Shared outputs before approval",
        ),
    ),
    "enrollment reinstated": (Kind.ENROLLMENT_REINSTATED, _reinstated),
    "consent version": (Kind.CONSENT_VERSION, _consent),
    "token suspended": (
        Kind.TOKEN_SUSPENDED,
        lambda w: token_flag_and_suspend(
            token=token_create(user=w["artist"], name="leaky")[0], reason="Used from 40 addresses", metrics={}
        ),
    ),
    "announcement": (
        Kind.ANNOUNCEMENT,
        lambda w: announcement_publish(
            program=w["program"], actor=w["manager"], title="New preset", body="Try **9:16**", email=True
        ),
    ),
}


def _emails_to(user):
    return [m for m in mail.outbox if m.to == [user.email]]


@pytest.mark.parametrize("case", list(DECISIONS), ids=list(DECISIONS))
def test_each_decision_is_one_inbox_item_and_one_email_linking_to_the_serving_address(world, mail_now, case):
    kind, decide = DECISIONS[case]
    artist = world["artist"]
    with mail_now():
        decide(world)
    items = list(Notification.objects.filter(user=artist, kind=kind))
    assert len(items) == 1, [n.title for n in items]
    item = items[0]
    emails = [m for m in _emails_to(artist) if m.subject.endswith(item.title)]
    assert len(emails) == 1
    message = emails[0]
    text, (html, mime) = message.body, message.alternatives[0]
    assert mime == "text/html"
    assert item.link and f"{SERVING}{item.link}" in text and f'href="{SERVING}{item.link}"' in html
    assert "127.0.0.1:8000" not in text + html
    # Plain text is plain: no HTML entities of quotes, ampersands or angle brackets.
    for entity in ("&#x27;", "&#39;", "&quot;", "&amp;", "&lt;"):
        assert entity not in text and entity not in message.subject
    assert f"{SERVING}/inbox/settings/" in text
    Notification.objects.filter(pk=item.pk).update(email_status="sent")  # as the task left it
    assert Notification.objects.get(pk=item.pk).email_status == "sent"


def test_the_reason_reaches_the_artist_escaped_in_html_and_intact_in_text(world, mail_now):
    with mail_now():
        enrollment_suspend(
            enrollment=Enrollment.objects.get(artist=world["artist"], program=world["program"]),
            actor=world["manager"],
            reason="You shared <b>Tom's</b> clip & more",
        )
    message = _emails_to(world["artist"])[-1]
    assert "You shared <b>Tom's</b> clip & more" in message.body
    html = message.alternatives[0][0]
    assert "&lt;b&gt;Tom&#x27;s&lt;/b&gt; clip &amp; more" in html and "<b>Tom" not in html


def test_switching_a_kind_off_stops_its_email_not_its_inbox_item(world, mail_now):
    artist = world["artist"]
    email_preferences_set(user=artist, actor=artist, emailed=set(Kind.values) - {Kind.TIME_REVIEWED})
    with mail_now():
        _time(world)
        _feedback(world)
    assert Notification.objects.filter(user=artist, kind=Kind.TIME_REVIEWED, email_status="off").count() == 1
    assert Notification.objects.filter(user=artist, kind=Kind.FEEDBACK_REVIEWED, email_status="sent").count() == 1
    subjects = [m.subject for m in _emails_to(artist)]
    assert not any("Time entry" in s for s in subjects) and any("Report" in s for s in subjects)
    assert AuditEvent.objects.filter(action="notifications.email_preferences_updated", subject=artist).exists()


def test_the_settings_page_switches_kinds_and_keeps_the_inbox(client, world):
    artist = world["artist"]
    client.force_login(artist)
    page = client.get("/inbox/settings/")
    assert page.status_code == 200 and b'value="share_decided" checked' in page.content
    assert b"access_flag" not in page.content  # staff kinds are not offered to artists
    client.post("/inbox/settings/", {"email": ["share_decided"]})
    assert not EmailPreference.objects.get(user=artist, kind=Kind.TIME_REVIEWED).email
    assert not EmailPreference.objects.filter(user=artist, kind=Kind.SHARE_DECIDED, email=False).exists()


def test_unread_count_in_the_nav_and_opening_an_item_marks_it_read(client, world):
    artist = world["artist"]
    _feedback(world)
    _time(world)
    client.force_login(artist)
    home = client.get("/").content.decode()
    assert 'id="nav-inbox"' in home and '2<span class="visually-hidden"> unread</span>' in home
    inbox = client.get("/inbox/")
    assert inbox.status_code == 200 and b"Can&#x27;t reproduce" in inbox.content
    item = Notification.objects.filter(user=artist, kind=Kind.FEEDBACK_REVIEWED).get()
    opened = client.get(f"/inbox/{item.pk}/")
    assert opened.status_code == 302 and opened["Location"] == item.link
    assert Notification.objects.get(pk=item.pk).read_at is not None
    assert '1<span class="visually-hidden"> unread</span>' in client.get("/").content.decode()
    client.post("/inbox/read/")
    assert 'visually-hidden"> unread' not in client.get("/").content.decode()
    # Another person's notice is not theirs to open.
    client.force_login(world["moderator"])
    assert client.get(f"/inbox/{item.pk}/").status_code == 404


def test_an_email_is_sent_once_and_a_lost_publish_is_sent_by_the_sweep(world, monkeypatch):
    from tester_platform.notifications import services

    monkeypatch.setattr(services, "_dispatch_email", lambda pk: None)  # the broker lost it
    item = notify(user=world["artist"], kind=Kind.ANNOUNCEMENT, title="Hello", body="Body", link="/inbox/")
    assert item.email_status == "pending"
    assert notifications_resend_pending() == 0  # too early: the first publish may still arrive
    sent = []
    monkeypatch.setattr(
        services, "_dispatch_email", lambda pk: sent.append(notification_email_send(notification_id=pk))
    )
    later = timezone.now() + dt.timedelta(minutes=5)
    assert notifications_resend_pending(now=later) == 1 and sent == [True]
    assert notification_email_send(notification_id=item.pk) is False  # a duplicate message sends nothing
    assert len(_emails_to(world["artist"])) == 1


def test_announcements_are_markdown_sanitised_and_inbox_only_unless_emailed(client, world, other_artist, mail_now):
    with mail_now():
        item = announcement_publish(
            program=world["program"],
            actor=world["manager"],
            title="Week 2",
            body="**Bold** <script>alert(1)</script>",
            email=False,
        )
    assert item.recipients == 2 and not mail.outbox
    assert Notification.objects.filter(kind=Kind.ANNOUNCEMENT, email_status="off").count() == 2
    client.force_login(other_artist)
    page = client.get(f"/inbox/announcements/{item.pk}/")
    assert b"<strong>Bold</strong>" in page.content and b"<script>alert" not in page.content
    assert AuditEvent.objects.filter(action="announcement.published", program=world["program"]).exists()


def test_the_console_posts_an_announcement(client, world):
    client.force_login(world["manager"])
    response = client.post(
        f"/dashboard/console/{world['program'].slug}/announcements/",
        {"title": "Hello", "body": "Testers", "email": "on"},
    )
    assert response.status_code == 302
    assert Notification.objects.filter(user=world["artist"], kind=Kind.ANNOUNCEMENT).count() == 1
    page = client.get(f"/dashboard/console/{world['program'].slug}/announcements/")
    assert b"Hello" in page.content and b"emailed" in page.content


def test_the_invitation_email_is_multipart_with_a_link_to_the_serving_address(
    program, manager, django_capture_on_commit_callbacks
):
    from tester_platform.programs.services import invitation_create
    from tester_platform.programs.tasks import send_invitation_email

    invitation, token = invitation_create(program=program, email="new@example.test", invited_by=manager)
    send_invitation_email(invitation.pk, token)
    message = mail.outbox[-1]
    assert f"{SERVING}/invite/{token}/" in message.body
    assert f'href="{SERVING}/invite/{token}/"' in message.alternatives[0][0]


def test_site_url_follows_the_port_the_demo_serves_on():
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(WEB_PORT="8123", DJANGO_SETTINGS_MODULE="tester_platform.settings")
    out = subprocess.run(
        [sys.executable, "-c", "import django; from django.conf import settings; print(settings.SITE_URL)"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "http://127.0.0.1:8123", out.stderr[-2000:]
    assert "WEB_PORT=$(PORT)" in (root / "Makefile").read_text()
