"""A leaked token is confined to itself: replayed from many IPs at a high rate it is
suspended automatically, while the artist's other tokens and every other artist work."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from generation.models import GenerationJob
from tester_platform.access.models import AccessFlag, AccessPolicy, TokenActivity
from tester_platform.access.services import access_flag_review, anomalies_scan
from tester_platform.api.models import ApiToken
from tester_platform.api.services import token_create
from tester_platform.audit.models import AuditEvent
from tester_platform.programs.models import Enrollment, Program
from tester_platform.programs.services import enrollment_suspend
from tests.conftest import api_as
from tests.factories import make_output


def bearer(raw, ip="127.0.0.1", agent="script/1.0"):
    client = APIClient(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_token_replayed_from_many_ips_is_suspended_and_nothing_else_is(
    artist, other_artist, program, manager, django_capture_on_commit_callbacks
):
    AccessPolicy.objects.create(program=program, requests_per_minute_per_artist=50)
    _, leaked = token_create(user=artist, name="leaked")
    _, spare = token_create(user=artist, name="laptop")
    _, bobs = token_create(user=other_artist, name="bob")
    statuses = [
        bearer(leaked, ip=f"10.0.{n // 250}.{n % 250 + 1}", agent=f"frontend/{n % 7}").get("/api/v1/me/").status_code
        for n in range(60)
    ]
    assert statuses.count(200) == 50 and statuses.count(429) == 10  # the flood hits the artist's limit
    with django_capture_on_commit_callbacks(execute=True):
        flags = anomalies_scan()
    assert [f.kind for f in flags] == ["token"]
    flag = flags[0]
    assert "different IP addresses" in flag.reason
    response = bearer(leaked).get("/api/v1/me/")
    assert response.status_code == 401 and "suspended" in response.json()["detail"]
    assert bearer(spare).get("/api/v1/me/").status_code == 200
    assert bearer(bobs).get("/api/v1/me/").status_code == 200
    assert AuditEvent.objects.filter(action="access.token_suspended", subject=artist).exists()
    assert anomalies_scan() == []  # already suspended: no second flag


def test_staff_and_the_artist_are_told_why(artist, program, manager, mail_now):
    _, leaked = token_create(user=artist, name="leaked")
    for n in range(10):
        bearer(leaked, ip=f"10.1.0.{n + 1}").get("/api/v1/me/")
    with mail_now():
        anomalies_scan()
    recipients = {tuple(m.to) for m in mail.outbox}
    assert (manager.email,) in recipients and (artist.email,) in recipients
    assert any("different IP addresses" in m.body for m in mail.outbox)


def test_staff_can_undo_a_flag(artist, program, manager):
    _, raw = token_create(user=artist, name="t")
    for n in range(10):
        bearer(raw, ip=f"10.2.0.{n + 1}").get("/api/v1/me/")
    flag = anomalies_scan()[0]
    access_flag_review(flag=flag, reviewer=manager, undo=True, note="It was my VPN")
    assert bearer(raw).get("/api/v1/me/").status_code == 200
    assert AccessFlag.objects.get().status == "undone"
    assert AuditEvent.objects.filter(action="access.flag_undone").exists()


def test_a_volume_far_above_the_tokens_own_baseline_is_flagged(artist, program):
    token, raw = token_create(user=artist, name="t")
    AccessPolicy.objects.create(program=program, min_requests_to_flag=30, baseline_multiplier=5)
    past = timezone.now() - timedelta(hours=2)
    for m in range(20):  # a usual week: ~2 requests a minute
        TokenActivity.objects.create(
            token=token,
            minute=(past - timedelta(minutes=m)).replace(second=0, microsecond=0),
            ip="127.0.0.1",
            user_agent_hash="x",
            requests=2,
        )
    client = bearer(raw)
    for _ in range(40):
        client.get("/api/v1/me/")
    flags = anomalies_scan()
    assert flags and "far above its usual" in flags[0].reason


def test_ordinary_use_is_not_flagged(artist, program):
    _, raw = token_create(user=artist, name="t")
    for _ in range(20):
        bearer(raw).get("/api/v1/me/")
    assert anomalies_scan() == []


def test_rate_limit_per_token_answers_429_with_retry_after(artist, program):
    AccessPolicy.objects.create(program=program, requests_per_minute_per_token=5)
    _, raw = token_create(user=artist, name="t")
    client = bearer(raw)
    statuses = [client.get("/api/v1/me/").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    limited = client.get("/api/v1/me/")
    assert int(limited["Retry-After"]) >= 1
    _, other = token_create(user=artist, name="t2")
    assert bearer(other).get("/api/v1/me/").status_code == 200  # per token, not per account…


def test_rate_limit_per_artist_covers_all_their_tokens(artist, program):
    AccessPolicy.objects.create(program=program, requests_per_minute_per_artist=6)
    raws = [token_create(user=artist, name=f"t{i}")[1] for i in range(3)]
    statuses = [bearer(raws[i % 3]).get("/api/v1/me/").status_code for i in range(8)]
    assert statuses.count(200) == 6 and statuses[-1] == 429


def test_generation_submissions_an_hour_are_limited(artist, program):
    AccessPolicy.objects.create(program=program, generations_per_hour_per_artist=2)
    Program.objects.filter(pk=program.pk).update(max_concurrent_jobs=10)
    client = api_as(artist)
    body = {"program": program.pk, "mode": "text_to_video", "prompt": "p", "duration_seconds": 1}
    statuses = [client.post("/api/v1/generations/", body, format="json").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


def test_a_scope_the_token_lacks_is_refused(artist, program):
    _, raw = token_create(user=artist, name="read only", scopes=["read"])
    client = bearer(raw)
    assert client.get("/api/v1/generations/").status_code == 200
    response = client.post(
        "/api/v1/generations/",
        {"program": program.pk, "mode": "text_to_video", "prompt": "p", "duration_seconds": 1},
        format="json",
    )
    assert response.status_code == 403 and GenerationJob.objects.count() == 0


def test_tokens_live_at_most_30_days(artist):
    from tester_platform.errors import InvalidInput

    with pytest.raises(InvalidInput):
        token_create(user=artist, name="long", ttl_days=31)


def test_pausing_a_program_refuses_new_jobs_and_cancels_queued_ones(
    artist, other_artist, program, manager, django_capture_on_commit_callbacks
):
    client = api_as(artist)
    body = {"program": program.pk, "mode": "text_to_video", "prompt": "p", "duration_seconds": 1}
    queued = [client.post("/api/v1/generations/", body, format="json").json()["id"] for _ in range(2)]
    response = api_as(manager).post(f"/api/v1/programs/{program.pk}/pause/", {"reason": "leak"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "paused"
    assert set(GenerationJob.objects.filter(pk__in=queued).values_list("status", flat=True)) == {"cancelled"}
    assert client.post("/api/v1/generations/", body, format="json").status_code == 409
    assert api_as(other_artist).post("/api/v1/generations/", body, format="json").status_code == 409


def test_suspending_one_artist_is_effective_on_the_next_request(artist, other_artist, program, manager):
    body = {"program": program.pk, "mode": "text_to_video", "prompt": "p", "duration_seconds": 1}
    queued = api_as(artist).post("/api/v1/generations/", body, format="json").json()["id"]
    enrollment_suspend(
        enrollment=Enrollment.objects.get(artist=artist, program=program), actor=manager, reason="Token shared publicly"
    )
    response = api_as(artist).post("/api/v1/generations/", body, format="json")
    assert response.status_code == 403 and "Token shared publicly" in response.json()["detail"]
    assert GenerationJob.objects.get(pk=queued).status == "cancelled"
    assert api_as(other_artist).post("/api/v1/generations/", body, format="json").status_code == 201


def test_an_artist_over_their_generation_volume_is_suspended(artist, program):
    AccessPolicy.objects.create(program=program, generations_per_hour_per_artist=100)
    make_output(artist, program)
    AccessPolicy.objects.filter(program=program).update(generations_per_hour_per_artist=0)
    flags = anomalies_scan()
    assert [f.kind for f in flags] == ["artist"]
    assert Enrollment.objects.get(artist=artist, program=program).status == "suspended"


def test_token_pages_show_the_token_once_and_revoke(client, artist):
    client.force_login(artist)
    response = client.post("/account/tokens/", {"name": "cli", "scopes": ["read"], "ttl_days": 7})
    assert response.status_code == 200 and b"atl_" in response.content
    token = ApiToken.objects.get(user=artist)
    assert token.token_hash.encode() not in response.content
    listing = client.get("/account/tokens/")
    assert f"atl_{token.prefix}_".encode() in listing.content and b"shown once" not in listing.content
    client.post(f"/account/tokens/{token.pk}/revoke/")
    assert ApiToken.objects.get().revoked_at is not None


def test_a_manager_suspends_an_artist_from_the_dashboard(client, artist, program, manager):
    client.force_login(manager)
    response = client.post(
        "/dashboard/access/", {"email": artist.email, "program": program.pk, "reason": "Posted their token"}
    )
    assert response.status_code == 302
    assert Enrollment.objects.get(artist=artist, program=program).status == "suspended"
    client.post(f"/dashboard/access/enrollments/{artist.enrollments.get().pk}/reinstate/")
    assert Enrollment.objects.get(artist=artist, program=program).status == "active"
