"""Assignments: a manager publishes a task; an artist takes it on, works (generations made
meanwhile are linked), submits it with findings; a moderator returns it with a reason or
accepts it, and the pay posts once."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from django.utils import timezone

from payments.models import LedgerEntry
from tester_platform.audit.models import AuditEvent
from tester_platform.errors import InvalidInput, InvalidTransition, NotFound
from tester_platform.labour.assignments import (
    TaskClosed,
    TaskFull,
    assignment_review,
    assignment_submit,
    assignment_take,
    task_close,
)
from tester_platform.labour.models import Assignment, Task
from tester_platform.labour.services import feedback_submit, pay_floor_assess
from tester_platform.notifications.models import Notification
from tester_platform.policy import PolicyDenied
from tester_platform.programs.audit_sentences import describe_events
from tests.factories import make_output
from tests.labour.evidence_files import png_bytes
from tests.labour.helpers import make_rate_card, publish_task


def test_published_taken_worked_submitted_returned_and_accepted_pays_once(
    client, artist, program, manager, moderator, mail_now
):
    before = make_output(artist, program)  # made before the task: not part of it
    with mail_now():
        task = publish_task(program, manager, title="Break the hands", fixed_pay_minor=4000)
    assert Notification.objects.filter(user=artist, kind="task_published").count() == 1
    assignment = assignment_take(task=task, artist=artist)
    first, second = make_output(artist, program), make_output(artist, program)
    finding = feedback_submit(
        artist=artist,
        program=program,
        category="quality",
        severity="high",
        title="Fingers fuse",
        body="Every seed.",
        generation_id=first.pk,
        attachments=[("fingers.png", png_bytes())],
        assignment=assignment,
    )
    assert finding.assignment_id == assignment.pk and finding.attachments.get().kind == "image"
    assignment_submit(assignment=assignment, artist=artist, note="Hands melt in 2 of 2 clips.")
    assignment.refresh_from_db()
    assert sorted(assignment.generations.values_list("pk", flat=True)) == [first.pk, second.pk]
    assert before.pk not in assignment.generations.values_list("pk", flat=True)

    # Returned with a reason: the artist sees it, nothing is paid.
    assignment_review(assignment=assignment, reviewer=moderator, decision="return", reason="Add the prompts you used.")
    assert not LedgerEntry.objects.filter(artist=artist).exists()
    assert "Add the prompts you used." in Notification.objects.get(user=artist, kind="task_reviewed").body
    client.force_login(artist)
    page = client.get(f"/labour/tasks/{task.pk}/").content.decode()
    assert "Returned to you: Add the prompts you used." in page
    assert "Reason: Add the prompts you used." in client.get("/labour/tasks/").content.decode()

    # Resubmitted and accepted: the pay posts once, the artist sees it.
    assignment_submit(assignment=assignment, artist=artist, note="Prompts: 'a juggler', 'a pianist'.")
    assignment_review(assignment=assignment, reviewer=moderator, decision="accept")
    with pytest.raises(InvalidTransition):
        assignment_review(assignment=assignment, reviewer=moderator, decision="accept")
    [line] = LedgerEntry.objects.filter(artist=artist)
    assert (line.kind, line.amount_minor, line.source_type, line.source_id) == (
        "time",
        4000,
        "labour.assignment",
        str(assignment.pk),
    )
    assert "€40.00" in client.get("/labour/earnings/").content.decode()
    assert "€40.00 added to your" in client.get(f"/labour/tasks/{task.pk}/").content.decode()

    # In the export, and audited in words.
    archive = zipfile.ZipFile(io.BytesIO(client.get("/me/export.zip").content))
    [exported] = json.loads(archive.read("assignments_taken.json"))
    assert exported["status"] == "accepted" and exported["generations"] == sorted([first.pk, second.pk])
    assert [r["assignment"] for r in json.loads(archive.read("feedback.json"))] == [assignment.pk]
    actions = list(
        AuditEvent.objects.filter(subject=artist, action__startswith="task.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "task.accepted_by_artist",
        "task.submitted",
        "task.work_returned",
        "task.submitted",
        "task.work_accepted",
    ]
    sentences = [
        e.sentence
        for e in describe_events(
            AuditEvent.objects.filter(subject=artist, action__startswith="task.").order_by("id"), viewer=artist
        )
    ]
    assert sentences[-1] == (
        f"Moderator {moderator.display_name} accepted your work on assignment #{task.pk}; "
        "€40.00 was posted to your earnings."
    )


def test_hourly_tasks_pay_the_rate_for_the_minutes_and_the_pay_floor_counts_them(artist, program, manager, moderator):
    task = publish_task(program, manager, pay="hourly", fixed_pay_minor=None)
    assignment = assignment_take(task=task, artist=artist)
    with pytest.raises(InvalidInput):
        assignment_submit(assignment=assignment, artist=artist, note="x")  # minutes are needed
    assignment_submit(assignment=assignment, artist=artist, note="Tested", minutes=90)
    assignment_review(assignment=assignment, reviewer=moderator, decision="accept")
    line = LedgerEntry.objects.get(artist=artist)
    assert line.amount_minor == 3750 and line.rate_basis == "per_hour" and line.quantity == 90  # €25/h × 1.5 h
    week = timezone.now() + dt.timedelta(days=7)
    assessment = pay_floor_assess(artist_id=artist.pk, program_id=program.pk, week=timezone.localdate(), now=week)
    assert assessment.accepted_minutes == 90 and assessment.topup_minor == 0


def test_capacity_invitations_deadlines_and_closing_hold(artist, other_artist, program, manager):
    full = publish_task(program, manager, capacity=1)
    assignment_take(task=full, artist=artist)
    with pytest.raises(TaskFull):
        assignment_take(task=full, artist=other_artist)
    with pytest.raises(InvalidTransition):
        assignment_take(task=full, artist=artist)
    chosen = publish_task(program, manager, invited_ids=[other_artist.pk])
    with pytest.raises(NotFound):
        assignment_take(task=chosen, artist=artist)
    assert assignment_take(task=chosen, artist=other_artist).status == "working"
    assert Notification.objects.filter(user=artist, kind="task_published").count() == 1  # not told of `chosen`
    due = publish_task(program, manager)
    Task.objects.filter(pk=due.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))
    with pytest.raises(TaskClosed):
        assignment_take(task=due, artist=artist)
    closed = task_close(task=publish_task(program, manager), actor=manager)
    with pytest.raises(TaskClosed):
        assignment_take(task=closed, artist=artist)
    with pytest.raises(InvalidInput):
        publish_task(program, manager, due_at=timezone.now() - dt.timedelta(hours=1))


def test_nobody_reviews_their_own_assignment_or_another_programs(artist, program, manager, moderator, other_moderator):
    task = publish_task(program, manager)
    assignment = assignment_take(task=task, artist=artist)
    assignment_submit(assignment=assignment, artist=artist, note="done")
    with pytest.raises(PolicyDenied):
        assignment_review(assignment=assignment, reviewer=artist, decision="accept")
    with pytest.raises(NotFound):  # staff of another program do not learn it exists
        assignment_review(assignment=assignment, reviewer=other_moderator, decision="accept")
    with pytest.raises(InvalidInput):
        assignment_review(assignment=assignment, reviewer=moderator, decision="return", reason="")
    assert Assignment.objects.get(pk=assignment.pk).status == "submitted"


def test_the_pages_take_submit_review_and_show_progress(client, artist, other_artist, program, manager, moderator):
    make_rate_card(program)
    client.force_login(manager)
    response = client.post(
        f"/dashboard/console/{program.slug}/tasks/",
        {
            "title": "Prompt adherence sweep",
            "instructions": "Try **10** prompts",
            "category": "prompt_adherence",
            "estimated_minutes": 45,
            "pay": "fixed",
            "fixed_pay": "12.50",
            "capacity": 2,
            "due_at": (timezone.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    task = Task.objects.get()
    assert task.fixed_pay_minor == 1250
    client.force_login(artist)
    listing = client.get("/labour/tasks/").content.decode()
    assert "Prompt adherence sweep" in listing and "€12.50" in listing and "2 places left" in listing
    page = client.get(f"/labour/tasks/{task.pk}/").content.decode()
    assert "<strong>10</strong>" in page and "Take it on" in page
    client.post(f"/labour/tasks/{task.pk}/take/")
    job = make_output(artist, program)
    page = client.get(f"/labour/tasks/{task.pk}/").content.decode()
    assert f'value="{job.pk}"' in page and "Add a finding" in page
    finding = client.get(f"/labour/feedback/new/?assignment={Assignment.objects.get().pk}").content.decode()
    assert "This finding is for your assignment" in finding
    client.post(f"/labour/tasks/{task.pk}/submit/", {"note": "All good", "generations": [job.pk]})
    assert Assignment.objects.get().status == "submitted"
    client.force_login(manager)
    progress = client.get(f"/dashboard/console/{program.slug}/tasks/").content.decode()
    assert 'data-submitted="1"' in progress
    client.force_login(moderator)
    queue = client.get("/dashboard/labour/assignments/").content.decode()
    assert "Prompt adherence sweep" in queue and "All good" in queue
    client.post(f"/dashboard/labour/assignments/{Assignment.objects.get().pk}/review/", {"decision": "accept"})
    assert Assignment.objects.get().status == "accepted"
    client.force_login(manager)
    assert 'data-accepted="1"' in client.get(f"/dashboard/console/{program.slug}/tasks/").content.decode()


def test_a_finding_joins_only_ones_own_open_assignment(artist, other_artist, program, manager, moderator):
    task = publish_task(program, manager)
    mine = assignment_take(task=task, artist=artist)
    with pytest.raises(InvalidInput):
        feedback_submit(
            artist=other_artist, program=program, category="bug", severity="low", title="x", body="y", assignment=mine
        )
    assignment_submit(assignment=mine, artist=artist, note="done")
    with pytest.raises(InvalidInput):
        feedback_submit(
            artist=artist, program=program, category="bug", severity="low", title="x", body="y", assignment=mine
        )
