from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tester_platform.api.models import ApiToken
from tester_platform.audit.models import AuditEvent
from tester_platform.consent.models import ConsentRecord
from tester_platform.programs.models import Enrollment, Program
from tests.conftest import api_as
from tests.factories import PASSWORD, ConsentDocumentFactory, enroll


def rows():
    from generation.models import GenerationJob

    return (
        ConsentRecord.objects.count(),
        ApiToken.objects.count(),
        AuditEvent.objects.count(),
        Program.objects.filter(status=Program.Status.PAUSED).count(),
        GenerationJob.objects.count(),
    )


# --- tokens ---------------------------------------------------------------------------


def test_token_round_trip_is_hashed_scoped_expiring_and_revocable(artist):
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/", {"email": artist.email, "password": PASSWORD, "name": "laptop"}, format="json"
    )
    assert response.status_code == 201, response.content
    raw = response.json()["token"]
    stored = ApiToken.objects.get(user=artist)
    assert raw not in (stored.token_hash, stored.prefix) and raw.startswith(f"atl_{stored.prefix}_")
    assert stored.expires_at <= timezone.now() + timedelta(days=30)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/me/").json()["email"] == artist.email
    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert client.get("/api/v1/me/").status_code == 401


def test_expired_and_forged_tokens_are_refused(artist):
    client = APIClient()
    raw = client.post("/api/v1/auth/token/", {"email": artist.email, "password": PASSWORD}, format="json").json()[
        "token"
    ]
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert "expired" in client.get("/api/v1/me/").json()["detail"]
    client.credentials(HTTP_AUTHORIZATION="Bearer atl_deadbeef_forged")
    assert client.get("/api/v1/me/").status_code == 401


def test_wrong_password_gets_401_and_no_token(artist):
    before = rows()
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": artist.email, "password": "nope-nope-nope"}, format="json"
    )
    assert response.status_code == 401
    assert rows() == before


# --- malformed input on every endpoint -----------------------------------------------

POST_ENDPOINTS = [
    "/api/v1/auth/token/",
    "/api/v1/consent/",
    "/api/v1/consent/withdraw/",
    "/api/v1/programs/{program}/pause/",
    "/api/v1/programs/{program}/resume/",
    "/api/v1/generations/",
]


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize("body", ['{"program": ', "not json at all", "[1, 2", '{"program": "\x00'])
def test_malformed_json_is_a_clear_400_and_nothing_written(artist, manager, program, path, body):
    client = api_as(manager if "pause" in path or "resume" in path else artist)
    before = rows()
    response = client.generic("POST", path.format(program=program.pk), body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "JSON" in response.json()["detail"]
    assert rows() == before


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"program": 1, "document_version": 1}, "participation"),
        ({"program": "one", "document_version": 1, "participation": True}, "program"),
        ({"program": 1, "document_version": -2, "participation": True}, "document_version"),
    ],
)
def test_consent_field_errors(artist, program, payload, field):
    payload = {**payload, "program": program.pk if payload["program"] == 1 else payload["program"]}
    before = rows()
    response = api_as(artist).post("/api/v1/consent/", payload, format="json")
    assert response.status_code == 400 and field in response.json()
    assert rows() == before


def test_consent_to_a_version_that_is_not_current_is_400(artist, program):
    ConsentDocumentFactory(program=program, version=2)
    before = rows()
    response = api_as(artist).post(
        "/api/v1/consent/", {"program": program.pk, "document_version": 1, "participation": True}, format="json"
    )
    assert response.status_code == 400
    assert "not the current" in response.json()["document_version"][0]
    assert rows() == before


# --- consent over the API -------------------------------------------------------------


def test_consent_state_sign_and_withdraw(artist, program):
    client = api_as(artist)
    state = client.get(f"/api/v1/consent/?program={program.pk}").json()
    assert state["active"] is True and state["document"]["version"] == 1 and len(state["records"]) == 1
    assert len(state["document"]["sha256"]) == 64
    assert client.post("/api/v1/consent/withdraw/", {"program": program.pk}, format="json").status_code == 201
    assert client.get(f"/api/v1/consent/?program={program.pk}").json()["active"] is False
    signed = client.post(
        "/api/v1/consent/",
        {"program": program.pk, "document_version": 1, "participation": True, "training_use": True},
        format="json",
    )
    assert signed.status_code == 201 and signed.json()["training_use"] is True


def test_me_shows_roles_enrollments_quota_and_consent(artist, program):
    me = api_as(artist).get("/api/v1/me/").json()
    assert me["roles"] == ["artist"]
    assert me["enrollments"][0]["program"]["slug"] == program.slug
    assert me["enrollments"][0]["consent_active"] is True
    assert me["quota"][0]["daily_compute_seconds"] == program.daily_compute_seconds


# --- authorization: owner, other artist, anonymous, each staff role ------------------


def test_artist_b_cannot_see_a_s_enrollment_consent_or_audit_events(artist, other_program, outsider):
    enroll(outsider, other_program, status=Enrollment.Status.ONBOARDING)
    assert api_as(outsider).get(f"/api/v1/consent/?program={artist.enrollments.get().program_id}").status_code == 404
    me = api_as(outsider).get("/api/v1/me/").json()
    assert [e["program"]["slug"] for e in me["enrollments"]] == ["other"]
    events = api_as(outsider).get("/api/v1/audit/").json()["results"]
    assert all(e["action"] != "consent.signed" for e in events)
    assert api_as(outsider).get(f"/api/v1/audit/?program={artist.enrollments.get().program_id}").status_code == 404


ROLES = ["anonymous", "artist", "other_artist", "moderator", "other_moderator", "manager", "finance_user", "admin_user"]


@pytest.fixture
def people(request, artist, other_artist, moderator, other_moderator, manager, finance_user, admin_user):
    return {
        "anonymous": None,
        "artist": artist,
        "other_artist": other_artist,
        "moderator": moderator,
        "other_moderator": other_moderator,
        "manager": manager,
        "finance_user": finance_user,
        "admin_user": admin_user,
    }


# method, path, expected status per role (in ROLES order)
MATRIX = [
    ("GET", "/api/v1/me/", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/programs/", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/programs/{program}/", [401, 200, 200, 200, 404, 200, 200, 200]),
    ("POST", "/api/v1/programs/{program}/pause/", [401, 403, 403, 403, 404, 200, 403, 200]),
    ("POST", "/api/v1/programs/{program}/resume/", [401, 403, 403, 403, 404, 200, 403, 200]),
    ("GET", "/api/v1/consent/?program={program}", [401, 200, 200, 404, 404, 404, 404, 404]),
    ("GET", "/api/v1/audit/", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/audit/?program={program}", [401, 404, 404, 200, 404, 200, 200, 200]),
    ("POST", "/api/v1/consent/withdraw/", [401, 201, 201, 404, 404, 404, 404, 404]),
]


@pytest.mark.parametrize("method,path,expected", MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_api_authorization_matrix(people, program, method, path, expected):
    for role, status in zip(ROLES, expected, strict=True):
        client = api_as(people[role])
        url = path.format(program=program.pk)
        body = {"program": program.pk} if method == "POST" else None
        response = client.generic(
            method, url, data=__import__("json").dumps(body) if body else "", content_type="application/json"
        )
        assert response.status_code == status, (
            f"{role}: {method} {url} → {response.status_code} {response.content[:200]}"
        )


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/consent/" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_healthz_checks_database_broker_and_media(client, db):
    body = client.get("/healthz").json()
    assert body == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "media": "ok"}}
