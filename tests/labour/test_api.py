"""API v1: feedback, time entries, reviews and earnings — the contract's paths, JSON
errors with field messages, 404 for other artists' objects, nothing written on bad input."""

import datetime as dt

import pytest
from django.utils import timezone

from payments.ledger import payout_post
from payments.models import LedgerEntry
from tester_platform.api.services import token_create
from tests.conftest import api_as
from tests.labour.helpers import make_job, rows

pytestmark = pytest.mark.django_db

YESTERDAY = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
# Fixed when the module is imported, so a week ahead: still in the future for a run that crosses midnight.
A_FUTURE_DAY = (timezone.localdate() + dt.timedelta(days=7)).isoformat()


def feedback_body(program, /, **extra):
    return {
        "program": program.pk,
        "category": "bug",
        "severity": "medium",
        "title": "Flicker",
        "body": "Frames 3-5 flicker.",
        **extra,
    }


def time_body(program, /, **extra):
    return {"program": program.pk, "date": YESTERDAY, "minutes": 90, "description": "Prompt sweep", **extra}


def test_an_artist_files_feedback_and_reads_only_their_own(artist, other_artist, program, rate_card):
    created = api_as(artist).post("/api/v1/feedback/", feedback_body(program), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "submitted" and body["severity"] == "medium" and body["program"] == program.pk
    listed = api_as(artist).get("/api/v1/feedback/").json()
    assert [r["id"] for r in listed["results"]] == [body["id"]]
    assert api_as(artist).get(f"/api/v1/feedback/{body['id']}/").status_code == 200
    assert api_as(other_artist).get(f"/api/v1/feedback/{body['id']}/").status_code == 404
    assert api_as(other_artist).get("/api/v1/feedback/").json()["results"] == []
    assert api_as(artist).get("/api/v1/feedback/999999/").status_code == 404


def test_an_artist_files_time_and_reads_only_their_own(artist, other_artist, program, rate_card):
    job = make_job(artist, program)
    created = api_as(artist).post("/api/v1/time-entries/", time_body(program, generations=[job.pk]), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["minutes"], body["date"], body["generations"], body["status"]) == (
        90,
        YESTERDAY,
        [job.pk],
        "submitted",
    )
    assert api_as(artist).get("/api/v1/time-entries/").json()["results"][0]["id"] == body["id"]
    assert api_as(other_artist).get(f"/api/v1/time-entries/{body['id']}/").status_code == 404


REVIEWERS = ["artist", "other_artist", "other_moderator", "outsider", "moderator"]
EXPECTED = [403, 404, 404, 404, 200]


@pytest.mark.parametrize("kind", ["feedback", "time-entries"])
def test_review_permissions_and_twice_is_409(request, kind, report, time_entry):
    item = report if kind == "feedback" else time_entry
    url = f"/api/v1/{kind}/{item.pk}/review/"
    for who, expected in zip(REVIEWERS, EXPECTED, strict=True):
        response = api_as(request.getfixturevalue(who)).post(url, {"decision": "accept"}, format="json")
        assert response.status_code == expected, (who, response.content)
    assert response.json()["status"] == "accepted"
    assert LedgerEntry.objects.count() == 1
    before = rows()
    again = api_as(request.getfixturevalue("manager")).post(url, {"decision": "accept"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_reviewed"
    assert rows() == before


def test_a_reviewer_reads_the_items_of_their_program(report, moderator, other_moderator, admin_user):
    assert api_as(moderator).get(f"/api/v1/feedback/{report.pk}/").status_code == 200
    assert api_as(admin_user).get(f"/api/v1/feedback/{report.pk}/").status_code == 200
    assert api_as(other_moderator).get(f"/api/v1/feedback/{report.pk}/").status_code == 404


def test_duplicate_and_reject_through_the_api(report, artist, program, moderator):
    second = api_as(artist).post("/api/v1/feedback/", feedback_body(program), format="json").json()
    url = f"/api/v1/feedback/{second['id']}/review/"
    missing = api_as(moderator).post(url, {"decision": "duplicate"}, format="json")
    assert missing.status_code == 400 and "duplicate_of" in missing.json()
    done = api_as(moderator).post(url, {"decision": "duplicate", "duplicate_of": report.pk}, format="json")
    assert done.status_code == 200 and done.json()["duplicate_of"] == report.pk
    no_reason = api_as(moderator).post(f"/api/v1/feedback/{report.pk}/review/", {"decision": "reject"}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()


def test_acted_on_through_the_api(report, moderator, manager, artist):
    api_as(moderator).post(f"/api/v1/feedback/{report.pk}/review/", {"decision": "accept"}, format="json")
    assert api_as(moderator).post(f"/api/v1/feedback/{report.pk}/acted-on/", {}, format="json").status_code == 403
    done = api_as(manager).post(f"/api/v1/feedback/{report.pk}/acted-on/", {"note": "Fixed"}, format="json")
    assert done.status_code == 200
    mine = api_as(artist).get(f"/api/v1/feedback/{report.pk}/").json()
    assert mine["acted_on_at"] and mine["acted_on_note"] == "Fixed"


BAD_TIME = [
    ({"minutes": -30}, "minutes"),
    ({"minutes": 0}, "minutes"),
    ({"minutes": 24 * 60 + 1}, "minutes"),
    ({"minutes": "ninety"}, "minutes"),
    ({"date": A_FUTURE_DAY}, "date"),
    ({"date": "31/12/2025"}, "date"),
    ({"description": ""}, "description"),
    ({"generations": [999999]}, "generations"),
]


@pytest.mark.parametrize("change,field", BAD_TIME, ids=[f"{k}" for k, _ in BAD_TIME])
def test_bad_time_entries_are_clear_400s_and_nothing_is_written(artist, program, rate_card, change, field):
    before = rows()
    response = api_as(artist).post("/api/v1/time-entries/", time_body(program, **change), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json() and response.json()[field][0]
    assert rows() == before


def test_more_than_the_daily_cap_is_a_clear_400(artist, program, rate_card):
    assert (
        api_as(artist).post("/api/v1/time-entries/", time_body(program, minutes=700), format="json").status_code == 201
    )
    before = rows()
    response = api_as(artist).post("/api/v1/time-entries/", time_body(program, minutes=60), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "daily_cap" and "20 min more" in response.json()["minutes"][0]
    assert rows() == before


def test_feedback_on_another_artists_output_is_a_clear_400(artist, other_artist, program, rate_card):
    theirs = make_job(other_artist, program)
    before = rows()
    response = api_as(artist).post("/api/v1/feedback/", feedback_body(program, generation=theirs.pk), format="json")
    assert response.status_code == 400 and "generation" in response.json()
    assert rows() == before


@pytest.mark.parametrize(
    "change,field",
    [
        ({"severity": "apocalyptic"}, "severity"),
        ({"category": "x"}, "category"),
        ({"title": ""}, "title"),
        ({"program": "main"}, "program"),
    ],
)
def test_bad_feedback_is_a_clear_400(artist, program, rate_card, change, field):
    before = rows()
    response = api_as(artist).post("/api/v1/feedback/", feedback_body(program, **change), format="json")
    assert response.status_code == 400 and field in response.json()
    assert rows() == before


def test_filing_for_a_program_one_is_not_in_is_refused(outsider, artist, program, other_program, rate_card):
    before = rows()
    for who, target in ((outsider, program), (artist, other_program)):
        response = api_as(who).post("/api/v1/time-entries/", time_body(target), format="json")
        assert response.status_code == 403 and response.json()["code"] == "not_enrolled"
    response = api_as(artist).post("/api/v1/feedback/", feedback_body(program, program=987654), format="json")
    assert response.status_code == 403
    assert rows() == before


LABOUR_POSTS = [
    "/api/v1/feedback/",
    "/api/v1/time-entries/",
    "/api/v1/feedback/{report}/review/",
    "/api/v1/time-entries/{time}/review/",
    "/api/v1/feedback/{report}/acted-on/",
]


@pytest.mark.parametrize("path", LABOUR_POSTS)
@pytest.mark.parametrize("body", ['{"program": ', "not json at all", "[1, 2", '{"decision": "\x00'])
def test_malformed_json_is_a_clear_400_and_nothing_written(artist, moderator, report, time_entry, path, body):
    client = api_as(moderator if "review" in path or "acted" in path else artist)
    before = rows()
    response = client.generic(
        "POST", path.format(report=report.pk, time=time_entry.pk), body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert "JSON" in response.json()["detail"]
    assert rows() == before


def test_writes_need_the_labour_scope(artist, program, rate_card, api):
    token, raw = token_create(user=artist, scopes=["read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/feedback/").status_code == 200
    assert api.get("/api/v1/earnings/").status_code == 200
    assert api.post("/api/v1/feedback/", feedback_body(program), format="json").status_code == 403
    assert api.post("/api/v1/time-entries/", time_body(program), format="json").status_code == 403
    _, raw = token_create(user=artist, scopes=["labour"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.post("/api/v1/feedback/", feedback_body(program), format="json").status_code == 201


def test_earnings_shows_balance_and_every_line_with_source_and_rate(artist, program, moderator, report, time_entry):
    api_as(moderator).post(f"/api/v1/feedback/{report.pk}/review/", {"decision": "accept"}, format="json")
    api_as(moderator).post(f"/api/v1/time-entries/{time_entry.pk}/review/", {"decision": "accept"}, format="json")
    payout_post(artist=artist, program_id=program.pk, amount_minor=1000, currency="EUR", source=("payments.payout", 1))
    body = api_as(artist).get("/api/v1/earnings/").json()
    assert body["currency"] == "EUR"
    assert body["balance"] == {"earned": 2500 + 3750, "unpaid": 2500 + 3750 - 1000, "paid": 1000}
    assert body["balance"]["unpaid"] == sum(line["amount"] for line in body["lines"])
    kinds = {line["kind"]: line for line in body["lines"]}
    assert set(kinds) == {"feedback_bounty", "time", "payout"}
    assert kinds["time"]["rate"] == {
        "amount": 2500,
        "basis": "per_hour",
        "quantity": 90,
        "rate_card_version": 1,
        "display": "€25.00/h × 90 min (rate card v1)",
    }
    assert kinds["feedback_bounty"]["source"]["url"].endswith(f"/labour/feedback/{report.pk}/")
    assert kinds["time"]["source"]["type"] == "labour.timeentry" and kinds["payout"]["rate"] is None
    assert set(kinds["time"]) >= {"id", "kind", "amount", "source", "rate", "created_at"}


def test_earnings_of_a_new_artist_are_zero(outsider):
    body = api_as(outsider).get("/api/v1/earnings/").json()
    assert body == {"currency": "EUR", "balance": {"earned": 0, "unpaid": 0, "paid": 0}, "balances": [], "lines": []}
    assert api_as(None).get("/api/v1/earnings/").status_code == 401


def test_proposed_time_through_the_api(artist, other_artist, program, rate_card):
    start = timezone.now() - dt.timedelta(hours=3)
    make_job(artist, program, created_at=start, finished_at=start + dt.timedelta(minutes=3))
    body = api_as(artist).get(f"/api/v1/time-entries/suggestions/?program={program.pk}").json()
    assert len(body) == 1 and body[0]["minutes"] == 15 and body[0]["unfiled_minutes"] == 15
    assert api_as(other_artist).get(f"/api/v1/time-entries/suggestions/?program={program.pk}").json() == []
    assert api_as(artist).get("/api/v1/time-entries/suggestions/").status_code == 400
    assert api_as(artist).get("/api/v1/time-entries/suggestions/?program=99999").status_code == 404


def test_list_views_use_a_fixed_number_of_queries(artist, program, rate_card, django_assert_max_num_queries):
    client = api_as(artist)
    for _ in range(3):
        client.post("/api/v1/feedback/", feedback_body(program), format="json")
        client.post("/api/v1/time-entries/", time_body(program, minutes=30), format="json")
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/v1/feedback/").json()["results"]) == 3
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/v1/time-entries/").json()["results"]) == 3
    with django_assert_max_num_queries(8):
        client.get("/api/v1/earnings/")


def test_the_schema_documents_the_labour_endpoints(client):
    schema = client.get("/api/schema/").content
    for path in (b"/api/v1/feedback/", b"/api/v1/time-entries/{id}/review/", b"/api/v1/earnings/"):
        assert path in schema


HUGE = "31473943100638402311027163136"


def test_numbers_too_large_for_a_database_key_are_4xx_not_500(artist, moderator, report, time_entry, client):
    client_ = api_as(artist)
    assert client_.get(f"/api/v1/time-entries/?program={HUGE}").status_code == 400
    assert client_.get(f"/api/v1/feedback/?program={HUGE}").status_code == 400
    assert client_.get(f"/api/v1/feedback/{HUGE}/").status_code == 404
    assert client_.get(f"/api/v1/time-entries/suggestions/?program={HUGE}").status_code == 400
    before = rows()
    for body in (
        feedback_body(report.program, generation=int(HUGE)),
        time_body(report.program, generations=[int(HUGE)]),
    ):
        path = "/api/v1/feedback/" if "category" in body else "/api/v1/time-entries/"
        assert client_.post(path, body, format="json").status_code == 400
    review = api_as(moderator).post(
        f"/api/v1/feedback/{report.pk}/review/", {"decision": "duplicate", "duplicate_of": int(HUGE)}, format="json"
    )
    assert review.status_code == 400
    client.force_login(moderator)
    assert client.get(f"/labour/feedback/{HUGE}/").status_code == 404
    assert client.get(f"/dashboard/labour/?program={HUGE}").status_code == 200
    assert client.post(f"/dashboard/labour/feedback/{HUGE}/review/", {"decision": "accept"}).status_code == 404
    assert client.post("/dashboard/labour/bulk-accept/", {"feedback": [HUGE]}).status_code == 302
    assert (
        client.post(
            f"/dashboard/labour/feedback/{report.pk}/review/",
            {"decision": "duplicate", "duplicate_of": HUGE},
            HTTP_HX_REQUEST="true",
        ).status_code
        == 400
    )
    assert rows() == before
