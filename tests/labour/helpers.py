"""Builders shared by the labour and payments tests."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from generation.models import GenerationJob
from payments.models import LedgerEntry, RateCard
from tester_platform.audit.models import AuditEvent
from tester_platform.consent.models import ConsentRecord
from tester_platform.labour.models import FeedbackReport, PayFloorAssessment, TimeEntry
from tester_platform.programs.models import Enrollment

BOUNTIES = dict(bounty_low_minor=300, bounty_medium_minor=1000, bounty_high_minor=2500, bounty_critical_minor=5000)


def make_rate_card(program, *, version: int = 1, published: bool = True, **overrides) -> RateCard:
    values = dict(
        currency="EUR",
        hourly_rate_minor=2500,
        pay_floor_hourly_minor=1200,
        share_bonus_minor=500,
        marketing_licence_minor=2000,
        **BOUNTIES,
    )
    values.update(overrides)
    return RateCard.objects.create(
        program=program, version=version, published_at=timezone.now() if published else None, **values
    )


def make_job(
    artist,
    program,
    *,
    created_at: dt.datetime | None = None,
    finished_at: dt.datetime | None = None,
    status: str = GenerationJob.Status.SUCCEEDED,
) -> GenerationJob:
    """A finished generation row, without running anything (these tests are about labour)."""
    job = GenerationJob.objects.create(
        artist=artist,
        program=program,
        enrollment=Enrollment.objects.get(artist=artist, program=program),
        consent_record=ConsentRecord.objects.filter(artist=artist, program=program).latest("id"),
        training_use=False,
        mode=GenerationJob.Mode.TEXT_TO_VIDEO,
        prompt="a paper boat in the rain",
        seed=7,
        width=64,
        height=64,
        num_frames=9,
        fps=16,
        steps=4,
        duration_seconds=0.5,
        aspect_ratio="1:1",
        resolution="preview",
        model_profile="wan-tiny",
        status=status,
    )
    if created_at is not None:
        GenerationJob.objects.filter(pk=job.pk).update(
            created_at=created_at, started_at=created_at, finished_at=finished_at or created_at
        )
        job.refresh_from_db()
    return job


def rows() -> dict[str, int]:
    """Row counts that bad input must leave unchanged."""
    return {
        "feedback": FeedbackReport.objects.count(),
        "time": TimeEntry.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "pay_floor": PayFloorAssessment.objects.count(),
        "audit": AuditEvent.objects.count(),
        "reviewed": FeedbackReport.objects.exclude(status="submitted").count()
        + TimeEntry.objects.exclude(status="submitted").count(),
    }


def ledger_total(artist) -> int:
    return sum(LedgerEntry.objects.filter(artist=artist).values_list("amount_minor", flat=True))


# --- for the authorization matrix (tests/access): labour objects in its world ------------


def matrix_rate_card(world) -> RateCard:
    return RateCard.objects.filter(program=world.program, published_at__isnull=False).first() or make_rate_card(
        world.program
    )


def matrix_report(world) -> FeedbackReport:
    """A submitted report by the world's owner (and the rate card acceptance needs)."""
    from tester_platform.labour.services import feedback_submit

    matrix_rate_card(world)
    return feedback_submit(
        artist=world.user("owner"),
        program=world.program,
        category="bug",
        severity="medium",
        title="Matrix report",
        body="b",
    )


def matrix_accepted_report(world) -> FeedbackReport:
    from tester_platform.labour.services import feedback_review

    return feedback_review(report=matrix_report(world), reviewer=world.user("moderator"), decision="accept")


def matrix_time(world) -> TimeEntry:
    from tester_platform.labour.services import time_entry_submit

    matrix_rate_card(world)
    return time_entry_submit(
        artist=world.user("owner"),
        program=world.program,
        date=timezone.localdate() - dt.timedelta(days=1),
        minutes=60,
        description="d",
    )


def matrix_attachment(world):
    """An image attached to a report by the world's owner."""
    from tester_platform.labour.services import feedback_submit
    from tests.labour.evidence_files import png_bytes

    matrix_rate_card(world)
    report = feedback_submit(
        artist=world.user("owner"),
        program=world.program,
        category="bug",
        severity="low",
        title="With evidence",
        body="b",
        attachments=[("still.png", png_bytes())],
    )
    return report.attachments.get()


def publish_task(program, manager, **overrides):
    """A task published by `manager` (a rate card is made if the program has none)."""
    from tester_platform.labour.assignments import task_publish

    if not RateCard.objects.filter(program=program, published_at__isnull=False).exists():
        make_rate_card(program)
    values = dict(
        title="Break the hands",
        instructions="## Goal\nMake **hands** melt.",
        category="quality",
        estimated_minutes=60,
        pay="fixed",
        fixed_pay_minor=4000,
        capacity=3,
        due_at=timezone.now() + dt.timedelta(days=3),
    )
    values.update(overrides)
    return task_publish(program=program, actor=manager, **values)


def matrix_task(world):
    from tester_platform.labour.models import Task

    return Task.objects.filter(program=world.program).first() or publish_task(world.program, world.user("manager"))


def matrix_assignment(world):
    from tester_platform.labour.assignments import assignment_take
    from tester_platform.labour.models import Assignment

    task = matrix_task(world)
    return Assignment.objects.filter(task=task, artist=world.user("owner")).first() or assignment_take(
        task=task, artist=world.user("owner")
    )


def matrix_submitted_assignment(world):
    from tester_platform.labour.assignments import assignment_submit

    assignment = matrix_assignment(world)
    if assignment.status == "working":
        assignment = assignment_submit(assignment=assignment, artist=world.user("owner"), note="Tested it")
    return assignment
