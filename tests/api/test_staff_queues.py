"""Staff queues and a program's reference lists in API v1: `?queue=review` on share
requests, feedback and time entries lists what awaits review in the caller's programs
(policy.programs_for(user, Act.REVIEW)) and nothing of another program; the published
refusal reasons and the severities with their bounties."""

import datetime as dt

import pytest
from django.utils import timezone

from tester_platform.labour.services import feedback_submit, time_entry_submit
from tester_platform.sharing.services import share_request_create
from tests.conftest import api_as
from tests.factories import enroll, make_artist, make_output, sign
from tests.labour.helpers import make_rate_card

pytestmark = pytest.mark.django_db

QUEUES = (
    "/api/v1/share-requests/?queue=review",
    "/api/v1/feedback/?queue=review",
    "/api/v1/time-entries/?queue=review",
)


def _work(artist, program, tag):
    """One item of each kind awaiting review in `program`."""
    make_rate_card(program)
    share = share_request_create(
        artist=artist, generation_id=make_output(artist, program).pk, caption=tag, destination="portfolio"
    )
    report = feedback_submit(artist=artist, program=program, category="bug", severity="medium", title=tag, body="b")
    entry = time_entry_submit(
        artist=artist, program=program, date=timezone.localdate() - dt.timedelta(days=1), minutes=30, description=tag
    )
    return share.pk, report.pk, entry.pk


@pytest.fixture
def both_programs(artist, program, other_program):
    elsewhere = make_artist(email="else@example.test")
    enroll(elsewhere, other_program)
    sign(elsewhere, other_program)
    return _work(artist, program, "here"), _work(elsewhere, other_program, "there")


def _ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_each_moderator_sees_only_their_programs_queue(both_programs, moderator, other_moderator):
    here, there = both_programs
    for url, mine, theirs in zip(QUEUES, here, there, strict=True):
        assert _ids(api_as(moderator).get(url)) == [mine], url
        assert _ids(api_as(other_moderator).get(url)) == [theirs], url


def test_a_manager_and_an_admin_see_the_queue_and_may_filter_by_program(
    both_programs, manager, admin_user, program, other_program
):
    here, there = both_programs
    for url, mine, theirs in zip(QUEUES, here, there, strict=True):
        assert _ids(api_as(manager).get(url)) == [mine]
        assert sorted(_ids(api_as(admin_user).get(url))) == sorted([mine, theirs])
        assert _ids(api_as(admin_user).get(f"{url}&program={other_program.pk}")) == [theirs]


def test_an_artist_or_finance_has_no_queue_but_still_their_own_list(both_programs, artist, finance_user):
    here, _ = both_programs
    for url, own in zip(QUEUES, here, strict=True):
        refused = api_as(artist).get(url)
        assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"
        assert refused.json()["code"] == "not_a_reviewer"
        assert api_as(finance_user).get(url).status_code == 403
        assert _ids(api_as(artist).get(url.split("?")[0])) == [own]


def test_a_bad_queue_name_is_a_400(artist):
    response = api_as(artist).get("/api/v1/share-requests/?queue=everything")
    assert response.status_code == 400 and "queue" in response.json()["errors"]


def test_the_published_reasons_of_a_program(artist, program, other_program):
    reasons = api_as(artist).get(f"/api/v1/programs/{program.pk}/reasons/")
    assert reasons.status_code == 200
    rows = reasons.json()
    assert rows and set(rows[0]) == {"code", "label", "description"}
    assert api_as(artist).get(f"/api/v1/programs/{other_program.pk}/reasons/").status_code == 404


def test_the_severities_of_a_program_with_the_bounty_of_its_rate_card(artist, program):
    api = api_as(artist)
    before = api.get(f"/api/v1/programs/{program.pk}/severities/").json()
    assert [row["code"] for row in before] == ["low", "medium", "high", "critical"]
    assert before[0]["bounty"] is None and before[0]["description"]
    card = make_rate_card(program)
    after = {row["code"]: row for row in api.get(f"/api/v1/programs/{program.pk}/severities/").json()}
    assert after["critical"]["bounty"] == card.bounty_critical_minor and after["critical"]["currency"] == card.currency
    assert api.get("/api/v1/programs/999999/severities/").status_code == 404
