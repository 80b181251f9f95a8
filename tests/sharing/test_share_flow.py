from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tester_platform.audit.models import AuditEvent
from tester_platform.errors import Conflict, InvalidInput, InvalidTransition, NotAllowed, NotFound
from tester_platform.programs.models import ProgramStaff
from tester_platform.sharing.models import ShareEvent, ShareRequest
from tester_platform.sharing.services import (
    share_appeal_decide,
    share_request_appeal,
    share_request_create,
    share_request_decide,
    share_request_resubmit,
    share_request_revoke,
    share_request_withdraw,
    share_requests_resolve_overdue,
)
from tests.factories import UserFactory, add_staff, make_output

Status = ShareRequest.Status


@pytest.fixture
def output(artist, program):
    return make_output(artist, program)


@pytest.fixture
def share(artist, output):
    return share_request_create(artist=artist, generation_id=output.pk, caption="My kite", destination="portfolio")


@pytest.fixture
def second_moderator(program):
    user = UserFactory(email="mod2@example.test", roles=["moderator"])
    add_staff(user, program, ProgramStaff.Role.MODERATOR)
    return user


def snapshot():
    return (
        list(ShareRequest.objects.values_list("id", "status", "decided_at", "appealed_at", "public_slug")),
        ShareEvent.objects.count(),
        AuditEvent.objects.count(),
    )


def test_a_request_enters_review_with_a_deadline(share, program):
    assert share.status == Status.IN_REVIEW
    expected = share.submitted_at + timedelta(hours=program.share_review_hours)
    assert share.due_at == expected
    assert [e.action for e in share.events.all()] == ["submitted", "automatic_checks_passed"]


def test_approve_makes_a_public_slug(share, moderator):
    share = share_request_decide(share_request=share, moderator=moderator, decision="approve")
    assert share.status == Status.APPROVED and share.public_slug and share.decided_by == moderator
    assert AuditEvent.objects.filter(action="share.approved", subject=share.artist).exists()


def test_reject_needs_a_listed_reason(share, moderator):
    before = snapshot()
    with pytest.raises(InvalidInput) as error:
        share_request_decide(share_request=share, moderator=moderator, decision="reject", reason_code="i_dislike_it")
    assert error.value.field == "reason_code"
    assert snapshot() == before
    share = share_request_decide(share_request=share, moderator=moderator, decision="reject", reason_code="safety")
    assert share.status == Status.REJECTED and share.reason.code == "safety"


def test_changes_requested_then_resubmitted_restarts_the_clock(share, moderator, artist):
    share = share_request_decide(
        share_request=share, moderator=moderator, decision="request_changes", note="Please crop the logo"
    )
    assert share.status == Status.CHANGES_REQUESTED
    share = share_request_resubmit(share_request=share, artist=artist, caption="Cropped")
    assert share.status == Status.RESUBMITTED and share.caption == "Cropped"
    share = share_request_decide(share_request=share, moderator=moderator, decision="approve")
    assert share.status == Status.APPROVED


def test_request_changes_needs_a_note(share, moderator):
    with pytest.raises(InvalidInput):
        share_request_decide(share_request=share, moderator=moderator, decision="request_changes")


def test_withdraw_and_revoke(share, artist, moderator, output):
    share_request_withdraw(share_request=share, artist=artist)
    again = share_request_create(artist=artist, generation_id=output.pk, caption="Again", destination="press")
    again = share_request_decide(share_request=again, moderator=moderator, decision="approve")
    again = share_request_revoke(share_request=again, artist=artist)
    assert again.status == Status.REVOKED and again.revoked_at


def test_appeal_once_decided_by_a_different_moderator(share, artist, moderator, second_moderator):
    share = share_request_decide(share_request=share, moderator=moderator, decision="reject", reason_code="safety")
    share = share_request_appeal(share_request=share, artist=artist, note="It is a cartoon, not violence")
    with pytest.raises(InvalidTransition):
        share_request_appeal(share_request=share, artist=artist, note="Again")
    before = snapshot()
    with pytest.raises(NotAllowed, match="other than"):
        share_appeal_decide(share_request=share, moderator=moderator, overturn=True)
    assert snapshot() == before
    share = share_appeal_decide(share_request=share, moderator=second_moderator, overturn=True, note="Agreed")
    assert share.status == Status.APPROVED and share.appeal_outcome == "overturned" and share.public_slug


# Every (state, transition) pair that is not allowed raises a domain error and writes nothing.
TRANSITIONS = {
    "approve": lambda r, a, m: share_request_decide(share_request=r, moderator=m, decision="approve"),
    "reject": lambda r, a, m: share_request_decide(
        share_request=r, moderator=m, decision="reject", reason_code="safety"
    ),
    "request_changes": lambda r, a, m: share_request_decide(
        share_request=r, moderator=m, decision="request_changes", note="x"
    ),
    "resubmit": lambda r, a, m: share_request_resubmit(share_request=r, artist=a),
    "withdraw": lambda r, a, m: share_request_withdraw(share_request=r, artist=a),
    "revoke": lambda r, a, m: share_request_revoke(share_request=r, artist=a),
    "appeal": lambda r, a, m: share_request_appeal(share_request=r, artist=a, note="please"),
}
ALLOWED = {
    Status.IN_REVIEW: {"approve", "reject", "request_changes", "withdraw"},
    Status.RESUBMITTED: {"approve", "reject", "request_changes", "withdraw"},
    Status.CHANGES_REQUESTED: {"resubmit", "withdraw"},
    Status.APPROVED: {"revoke"},
    Status.REJECTED: {"appeal"},
    Status.WITHDRAWN: set(),
    Status.REVOKED: set(),
}


@pytest.mark.parametrize("state", list(ALLOWED))
@pytest.mark.parametrize("transition", list(TRANSITIONS))
def test_transition_table(share, artist, moderator, state, transition):
    ShareRequest.objects.filter(pk=share.pk).update(
        status=state, decided_by=moderator, public_slug="slug" if state == Status.APPROVED else None
    )
    share.refresh_from_db()
    before = snapshot()
    if transition in ALLOWED[state]:
        TRANSITIONS[transition](share, artist, moderator)
        assert snapshot() != before
    else:
        with pytest.raises(InvalidTransition):
            TRANSITIONS[transition](share, artist, moderator)
        assert snapshot() == before


def test_a_second_open_request_for_one_output_is_refused_by_the_database(share, output, artist):
    with pytest.raises(IntegrityError), transaction.atomic():
        ShareRequest.objects.create(
            generation=output,
            artist=artist,
            program=output.program,
            caption="dup",
            destination="other",
            submitted_at=timezone.now(),
            due_at=timezone.now(),
            status=Status.SUBMITTED,
        )
    with pytest.raises(Conflict):
        share_request_create(artist=artist, generation_id=output.pk, caption="dup", destination="other")


def test_an_artist_cannot_request_sharing_of_another_artists_output(output, other_artist):
    before = snapshot()
    with pytest.raises(NotFound):
        share_request_create(artist=other_artist, generation_id=output.pk, caption="mine now", destination="press")
    assert snapshot() == before


def test_a_moderator_of_another_program_cannot_decide(share, other_moderator):
    before = snapshot()
    with pytest.raises(NotFound):
        share_request_decide(share_request=share, moderator=other_moderator, decision="approve")
    assert snapshot() == before


def test_deadline_task_approves_overdue_requests_and_never_touches_decided_ones(share, artist, program, moderator):
    decided_output = make_output(artist, program)
    decided = share_request_create(artist=artist, generation_id=decided_output.pk, caption="B", destination="other")
    decided = share_request_decide(share_request=decided, moderator=moderator, decision="reject", reason_code="safety")
    later = timezone.now() + timedelta(hours=program.share_review_hours + 1)
    assert share_requests_resolve_overdue(now=timezone.now()) == []
    resolved = share_requests_resolve_overdue(now=later)
    assert resolved == [share.pk]
    share.refresh_from_db()
    assert share.status == Status.APPROVED and share.auto_decided and share.decided_by is None
    assert AuditEvent.objects.filter(action="share.auto_approved", target_id=str(share.pk)).exists()
    decided_before = ShareRequest.objects.filter(pk=decided.pk).values().get()
    assert share_requests_resolve_overdue(now=later) == []
    assert ShareRequest.objects.filter(pk=decided.pk).values().get() == decided_before


def test_moderator_steps_run_in_order(share, program, moderator, second_moderator):
    from tester_platform.sharing.models import ReviewStep

    ReviewStep.objects.create(program=program, position=1, kind="automatic", name="Automatic checks")
    ReviewStep.objects.create(program=program, position=2, kind="moderators", name="Safety team")
    ReviewStep.objects.create(program=program, position=3, kind="moderators", name="Legal")
    ShareRequest.objects.filter(pk=share.pk).update(current_step=2)
    share = share_request_decide(share_request=share, moderator=moderator, decision="approve")
    assert share.status == Status.IN_REVIEW and share.current_step == 3
    share = share_request_decide(share_request=share, moderator=second_moderator, decision="approve")
    assert share.status == Status.APPROVED


def test_an_approved_share_earns_the_bonus_once(share, artist, moderator, program):
    from payments.models import LedgerEntry, RateCard

    RateCard.objects.create(
        program=program,
        version=1,
        currency="EUR",
        hourly_rate_minor=2000,
        pay_floor_hourly_minor=1200,
        share_bonus_minor=750,
        published_at=timezone.now(),
    )
    share = share_request_decide(share_request=share, moderator=moderator, decision="approve")
    share_request_revoke(share_request=share, artist=artist)
    entries = LedgerEntry.objects.filter(artist=artist, kind="share_bonus")
    assert [(e.amount_minor, e.source_id) for e in entries] == [(750, str(share.pk))]


def test_an_auto_approved_share_earns_the_bonus_too(share, artist, program):
    from payments.models import LedgerEntry, RateCard

    RateCard.objects.create(
        program=program,
        version=1,
        currency="EUR",
        hourly_rate_minor=2000,
        pay_floor_hourly_minor=1200,
        share_bonus_minor=750,
        published_at=timezone.now(),
    )
    share_requests_resolve_overdue(now=timezone.now() + timedelta(days=30))
    assert LedgerEntry.objects.filter(artist=artist, kind="share_bonus").count() == 1
