from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tester_platform.accounts.models import User
from tester_platform.audit.models import AuditEvent
from tester_platform.errors import Conflict, InvalidInput, InvalidTransition
from tester_platform.programs.models import Application, Enrollment, Invitation, Program
from tester_platform.programs.services import (
    application_decide,
    application_submit,
    invitation_create,
    program_set_paused,
)
from tests.factories import PASSWORD, ProgramFactory, add_staff


def counts():
    return (
        User.objects.count(),
        Enrollment.objects.count(),
        Invitation.objects.filter(accepted_at__isnull=False).count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def invite(program, manager):
    invitation, token = invitation_create(program=program, email="Newbie@Example.test", invited_by=manager)
    return invitation, token


def signup(client, token, **overrides):
    data = {"display_name": "Newbie", "password1": PASSWORD, "password2": PASSWORD, **overrides}
    return client.post(reverse("portal:invitation", args=[token]), data)


def test_invitation_token_is_stored_hashed(invite):
    invitation, token = invite
    assert token not in invitation.token_hash and len(invitation.token_hash) == 64
    assert invitation.email == "newbie@example.test"


def test_accepting_an_invitation_creates_a_verified_account_and_enrollment(client, invite, program):
    invitation, token = invite
    response = signup(client, token)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:onboarding", args=[program.slug, "profile"])
    user = User.objects.get(email="newbie@example.test")
    assert user.emailaddress_set.get().verified
    assert Enrollment.objects.get(artist=user).status == Enrollment.Status.ONBOARDING
    invitation.refresh_from_db()
    assert invitation.accepted_by == user


@pytest.mark.parametrize("case", ["forged", "expired", "used"])
def test_bad_invitation_tokens_get_a_clear_4xx_and_nothing_written(client, invite, case):
    invitation, token = invite
    if case == "forged":
        token = "x" * 43
    elif case == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    else:
        assert signup(client, token).status_code == 302
        client.logout()
    before = counts()
    for response in (client.get(reverse("portal:invitation", args=[token])), signup(client, token)):
        assert response.status_code == 400
        assert {"forged": b"not valid", "expired": b"expired", "used": b"already been used"}[case] in response.content
    assert counts() == before


def test_a_second_sign_up_with_the_same_email_is_refused(client, program, manager, artist):
    _, token = invitation_create(program=program, email=artist.email, invited_by=manager)
    before = counts()
    response = signup(client, token)
    assert response.status_code == 200 and b"already have an account" in response.content
    assert counts() == before


def test_weak_or_mismatched_passwords_get_field_messages(client, invite):
    _, token = invite
    before = counts()
    response = signup(client, token, password2="something-else-entirely")
    assert response.status_code == 400 and b"two passwords differ" in response.content
    response = signup(client, token, password1="123", password2="123")
    assert response.status_code == 400 and b"too short" in response.content
    assert counts() == before


def test_application_accept_enrolls_and_decline_needs_a_reason(outsider, manager):
    recruiting = ProgramFactory(status=Program.Status.RECRUITING)
    add_staff(manager, recruiting, "program_manager")
    application = application_submit(
        program=recruiting, artist=outsider, portfolio_url="https://art.example", statement="I animate."
    )
    with pytest.raises(Conflict):
        application_submit(program=recruiting, artist=outsider, portfolio_url="https://art.example", statement="again")
    with pytest.raises(InvalidInput, match="reason"):
        application_decide(application=application, decided_by=manager, accept=False)
    application_decide(application=application, decided_by=manager, accept=True)
    assert Enrollment.objects.filter(artist=outsider, program=recruiting).exists()
    with pytest.raises(InvalidTransition):
        application_decide(application=application, decided_by=manager, accept=True)
    assert Application.objects.get().status == Application.Status.ACCEPTED


def test_pause_and_resume_are_audited_transitions(program, manager):
    program_set_paused(program=program, actor=manager, paused=True)
    assert Program.objects.get(pk=program.pk).status == Program.Status.PAUSED
    program_set_paused(program=program, actor=manager, paused=False)
    assert list(
        AuditEvent.objects.filter(program=program, action__startswith="program.").values_list("action", flat=True)
    ) == ["program.resumed", "program.paused"]
    closed = ProgramFactory(status=Program.Status.CLOSED)
    add_staff(manager, closed, "program_manager")
    with pytest.raises(InvalidTransition):
        program_set_paused(program=closed, actor=manager, paused=True)


def test_seed_demo_is_idempotent(db):
    from django.core.management import call_command

    call_command("seed_demo")
    first = (User.objects.count(), Enrollment.objects.count(), AuditEvent.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), Enrollment.objects.count(), AuditEvent.objects.count()) == first
    demo = Program.objects.get(slug="demo")
    assert demo.name == "Demo Early Access" and demo.status == Program.Status.ACTIVE
    assert (demo.max_resolution, demo.max_duration_seconds) == ("480p", 10)  # what the tiny model can render
    artist = User.objects.get(email="artist@demo.test")
    artist2 = User.objects.get(email="artist2@demo.test")
    from tester_platform.consent.services import active_consent

    assert active_consent(artist=artist, program=demo) is not None
    assert active_consent(artist=artist2, program=demo) is None
    assert artist.check_password("atelier-demo")
