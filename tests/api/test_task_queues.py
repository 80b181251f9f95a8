"""Tasks and assignments in API v1: artists see the tasks offered to them and their own
assignments; with `?queue=review` moderators and managers list the tasks of their programs
(with progress) and the assignments awaiting review there, scoped by the one policy
(policy.programs_for(user, Act.REVIEW)), and accept or return an assignment."""

import pytest

from payments.models import LedgerEntry
from tester_platform.labour.assignments import assignment_submit, assignment_take
from tests.conftest import api_as
from tests.factories import enroll, make_artist, sign
from tests.labour.helpers import publish_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(artist, program, other_program, manager, admin_user):
    """A submitted assignment in each program."""
    elsewhere = make_artist(email="else@example.test")
    enroll(elsewhere, other_program)
    sign(elsewhere, other_program)
    here = publish_task(program, manager, title="here")
    there = publish_task(other_program, admin_user, title="there")
    mine = assignment_submit(assignment=assignment_take(task=here, artist=artist), artist=artist, note="done")
    theirs = assignment_submit(assignment=assignment_take(task=there, artist=elsewhere), artist=elsewhere, note="x")
    return here, there, mine, theirs


def _ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_each_moderator_lists_only_their_programs_tasks_and_assignments(submitted, moderator, other_moderator):
    here, there, mine, theirs = submitted
    assert _ids(api_as(moderator).get("/api/v1/tasks/?queue=review")) == [here.pk]
    assert _ids(api_as(other_moderator).get("/api/v1/tasks/?queue=review")) == [there.pk]
    assert _ids(api_as(moderator).get("/api/v1/assignments/?queue=review")) == [mine.pk]
    assert _ids(api_as(other_moderator).get("/api/v1/assignments/?queue=review")) == [theirs.pk]
    row = api_as(moderator).get("/api/v1/tasks/?queue=review").json()["results"][0]
    assert row["progress"] == {"taken": 1, "working": 0, "submitted": 1, "returned": 0, "accepted": 0, "withdrawn": 0}
    assert row["places_left"] == here.capacity - 1
    assert row["url"].startswith("http://testserver/")


def test_a_manager_and_an_admin_see_the_queues_and_may_filter(submitted, manager, admin_user, other_program):
    here, there, mine, theirs = submitted
    assert _ids(api_as(manager).get("/api/v1/assignments/?queue=review")) == [mine.pk]
    assert sorted(_ids(api_as(admin_user).get("/api/v1/assignments/?queue=review"))) == sorted([mine.pk, theirs.pk])
    assert _ids(api_as(admin_user).get(f"/api/v1/tasks/?queue=review&program={other_program.pk}")) == [there.pk]


def test_an_artist_or_finance_has_no_queue_but_their_own_lists(submitted, artist, finance_user):
    here, there, mine, _ = submitted
    for url in ("/api/v1/tasks/?queue=review", "/api/v1/assignments/?queue=review"):
        for user in (artist, finance_user):
            refused = api_as(user).get(url)
            assert refused.status_code == 403 and refused.json()["code"] == "not_a_reviewer", url
    assert _ids(api_as(artist).get("/api/v1/assignments/")) == [mine.pk]
    assert _ids(api_as(artist).get("/api/v1/tasks/")) == []  # taken already: no longer offered
    assert api_as(artist).get(f"/api/v1/tasks/{here.pk}/").status_code == 200  # but still readable
    assert api_as(artist).get(f"/api/v1/tasks/{there.pk}/").status_code == 404
    assert api_as(artist).get(f"/api/v1/assignments/{submitted[3].pk}/").status_code == 404


def test_an_open_task_is_offered_to_the_programs_testers(artist, program, manager, other_program, admin_user):
    offered = publish_task(program, manager, title="offered")
    publish_task(other_program, admin_user, title="elsewhere")
    assert _ids(api_as(artist).get("/api/v1/tasks/")) == [offered.pk]


def test_a_moderator_accepts_through_the_api_and_the_pay_posts_once(submitted, moderator, other_moderator, artist):
    _, _, mine, _ = submitted
    url = f"/api/v1/assignments/{mine.pk}/review/"
    assert api_as(other_moderator).post(url, {"decision": "accept"}, format="json").status_code == 404
    assert api_as(artist).post(url, {"decision": "accept"}, format="json").status_code == 403
    accepted = api_as(moderator).post(url, {"decision": "accept"}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "accepted" and accepted.json()["pay"] == 4000
    again = api_as(moderator).post(url, {"decision": "accept"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_reviewed"
    assert LedgerEntry.objects.filter(source_type="labour.assignment", source_id=str(mine.pk)).count() == 1


def test_returning_needs_a_reason(submitted, moderator):
    _, _, mine, _ = submitted
    response = api_as(moderator).post(f"/api/v1/assignments/{mine.pk}/review/", {"decision": "return"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()["errors"]
