"""The staff console (issue 12): its services (policy, validation, audit) and its pages
(scoped to the manager's own programs, generated from the console's URL patterns)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, reverse
from django.utils import timezone

from payments.errors import InvalidRateCard, RateCardImmutable
from payments.models import RateCard
from payments.rate_cards import rate_card_save_draft
from payments.selectors import current_rate_card
from tester_platform.accounts.roles import MODERATOR, PROGRAM_MANAGER, has_role, roles_of
from tester_platform.audit.models import AuditEvent
from tester_platform.consent.models import ConsentDocument
from tester_platform.consent.services import active_consent, consent_document_draft, consent_document_publish
from tester_platform.dashboard import urls as dashboard_urls
from tester_platform.errors import Conflict, InvalidInput, InvalidTransition, NotAllowed, NotFound
from tester_platform.policy import SelfDealing
from tester_platform.programs.models import Application, Enrollment, Invitation, Program, ProgramStaff
from tester_platform.programs.rate_cards import rate_card_draft, rate_card_publish
from tester_platform.programs.services import (
    InvitationListInvalid,
    invitation_create,
    invitation_create_many,
    invitation_for_token,
    invitation_resend,
    invitation_revoke,
    program_caps,
    program_staff_grant,
    program_staff_revoke,
    program_update_settings,
)
from tests.factories import UserFactory, add_staff, enroll, make_artist

TERMS = dict(
    currency="EUR",
    hourly_rate_minor=2500,
    pay_floor_hourly_minor=1200,
    share_bonus_minor=500,
    bounty_low_minor=300,
    bounty_medium_minor=1000,
    bounty_high_minor=2500,
    bounty_critical_minor=5000,
    marketing_licence_minor=2000,
    daily_time_cap_minutes=600,
    minimum_payout_minor=1000,
    notes="",
)


@pytest.fixture
def other_manager(other_program):
    user = UserFactory(email="manager-other@example.test", roles=[PROGRAM_MANAGER])
    add_staff(user, other_program, ProgramStaff.Role.MANAGER)
    return user


def rows():
    """Everything a console write could touch, to show that a refused one wrote nothing."""
    return (
        Program.objects.count(),
        Invitation.objects.count(),
        RateCard.objects.count(),
        ConsentDocument.objects.count(),
        ProgramStaff.objects.count(),
        AuditEvent.objects.count(),
        tuple(Program.objects.order_by("pk").values_list("max_resolution", "max_duration_seconds", "name")),
    )


# --- program settings ---------------------------------------------------------------------------


def test_a_manager_updates_settings_and_the_audit_keeps_before_and_after(program, manager):
    program_update_settings(
        program=program,
        actor=manager,
        name="Main Program 2",
        daily_compute_seconds=900,
        share_review_hours=24,
        share_approve_on_expiry=False,
        max_concurrent_jobs=2,
    )
    program.refresh_from_db()
    assert (
        program.name,
        program.daily_compute_seconds,
        program.share_review_hours,
        program.share_approve_on_expiry,
    ) == ("Main Program 2", 900, 24, False)
    event = AuditEvent.objects.filter(action="program.settings_updated").get()
    assert event.actor == manager and event.program == program
    # Only what changed (max_concurrent_jobs was already 2).
    assert event.data["changes"] == {
        "name": {"before": "Main Program", "after": "Main Program 2"},
        "daily_compute_seconds": {"before": 600, "after": 900},
        "share_review_hours": {"before": 48, "after": 24},
        "share_approve_on_expiry": {"before": True, "after": False},
    }


def test_saving_unchanged_settings_records_nothing(program, manager):
    before = rows()
    program_update_settings(program=program, actor=manager, name=program.name)
    assert rows() == before


def test_a_resolution_the_model_cannot_render_is_a_field_error(program, manager):
    caps = program_caps(program)  # wan-tiny: at most 848×480 px
    too_big = next(r for r in Program.Resolution.values if r not in caps["resolutions"])
    before = rows()
    with pytest.raises(InvalidInput) as error:
        program_update_settings(program=program, actor=manager, max_resolution=too_big)
    assert error.value.field == "max_resolution" and too_big in error.value.message
    assert rows() == before


def test_a_duration_beyond_the_model_is_a_field_error_and_its_longest_is_accepted(program, manager, settings):
    settings.GENERATION_MODEL_PROFILES = {"wan-short": {"extends": "wan-tiny", "max_total_seconds": 7}}
    Program.objects.filter(pk=program.pk).update(model_profile="wan-short")
    program.refresh_from_db()
    longest = program_caps(program)["max_duration_seconds"]
    assert longest == 7  # this profile chains clips up to 7 s
    before = rows()
    with pytest.raises(InvalidInput) as error:
        program_update_settings(program=program, actor=manager, max_duration_seconds=longest + 1)
    assert error.value.field == "max_duration_seconds" and f"{longest} seconds at most" in error.value.message
    assert rows() == before
    program_update_settings(program=program, actor=manager, max_duration_seconds=longest)
    program.refresh_from_db()
    assert program.max_duration_seconds == longest


def test_a_larger_model_profile_allows_a_larger_resolution(program, manager):
    Program.objects.filter(pk=program.pk).update(model_profile="wan2.1-t2v-1.3b")
    program.refresh_from_db()
    assert "480p" in program_caps(program)["resolutions"]
    program_update_settings(program=program, actor=manager, max_resolution="480p")
    program.refresh_from_db()
    assert program.max_resolution == "480p"


@pytest.mark.parametrize(
    "fields",
    [
        {"max_concurrent_jobs": 0},
        {"share_review_hours": "12"},
        {"name": "  "},
        {"max_resolution": "8k"},
        {"status": "closed"},
    ],
)
def test_bad_settings_are_field_errors_and_write_nothing(program, manager, fields):
    before = rows()
    with pytest.raises(InvalidInput) as error:
        program_update_settings(program=program, actor=manager, **fields)
    assert error.value.field == next(iter(fields))
    assert rows() == before


def test_settings_of_another_program_are_not_found_and_moderators_are_refused(program, other_manager, moderator):
    before = rows()
    with pytest.raises(NotFound):
        program_update_settings(program=program, actor=other_manager, name="Taken over")
    with pytest.raises(NotAllowed):
        program_update_settings(program=program, actor=moderator, name="Taken over")
    assert rows() == before


# --- invitations --------------------------------------------------------------------------------


def test_many_invitations_in_one_go_skip_duplicates(program, manager, artist):
    invitation_create(program=program, email="open@example.test", invited_by=manager)
    batch = invitation_create_many(
        program=program,
        invited_by=manager,
        emails=[
            "Ana@Example.test",
            "ben@example.test",
            "ana@example.test",
            "open@example.test",
            artist.email,
            "cleo@example.test",
        ],
    )
    assert sorted(i.email for i in batch.created) == ["ana@example.test", "ben@example.test", "cleo@example.test"]
    assert dict(batch.skipped) == {
        "ana@example.test": "listed more than once",
        "open@example.test": "already invited (the invitation is still open)",
        artist.email: "already in the program",
    }
    assert AuditEvent.objects.filter(action="invitation.created").count() == 4


def test_one_bad_address_writes_no_invitation_and_names_each_bad_line(program, manager):
    before = rows()
    with pytest.raises(InvitationListInvalid) as error:
        invitation_create_many(
            program=program, invited_by=manager, emails=["ok@example.test", "not-an-address", "also@ok.test", "x@"]
        )
    assert [index for index, _ in error.value.problems] == [1, 3]
    assert "“not-an-address” is not a valid email address." in error.value.problems[0][1]
    assert error.value.field == "emails"
    assert rows() == before


def test_invitations_for_another_program_are_not_found_and_moderators_are_refused(program, other_manager, moderator):
    before = rows()
    with pytest.raises(NotFound):
        invitation_create_many(program=program, invited_by=other_manager, emails=["a@example.test"])
    with pytest.raises(NotAllowed):
        invitation_create_many(program=program, invited_by=moderator, emails=["a@example.test"])
    assert rows() == before


def test_resend_issues_a_new_token_and_revokes_the_old_one(program, manager):
    old, old_token = invitation_create(program=program, email="dana@example.test", invited_by=manager)
    new, new_token = invitation_resend(invitation=old, actor=manager)
    old.refresh_from_db()
    assert old.revoked_at is not None and new.pk != old.pk and new.email == old.email
    assert invitation_for_token(new_token).pk == new.pk
    with pytest.raises(InvalidInput, match="withdrawn"):
        invitation_for_token(old_token)
    event = AuditEvent.objects.get(action="invitation.resent")
    assert event.actor == manager and event.data == {"email": "dana@example.test", "replaces": old.pk}


def test_revoke_stops_the_link_and_an_accepted_invitation_cannot_be_revoked_or_resent(program, manager, artist):
    invitation, token = invitation_create(program=program, email="eve@example.test", invited_by=manager)
    invitation_revoke(invitation=invitation, actor=manager)
    with pytest.raises(InvalidInput, match="withdrawn"):
        invitation_for_token(token)
    assert AuditEvent.objects.filter(action="invitation.revoked", actor=manager).count() == 1
    with pytest.raises(InvalidTransition):
        invitation_resend(invitation=invitation, actor=manager)
    accepted, _ = invitation_create(program=program, email="fay@example.test", invited_by=manager)
    Invitation.objects.filter(pk=accepted.pk).update(accepted_at=accepted.created_at)
    for service in (invitation_revoke, invitation_resend):
        with pytest.raises(InvalidTransition):
            service(invitation=accepted, actor=manager)


def test_resend_and_revoke_of_another_programs_invitation_are_not_found(program, manager, other_manager, moderator):
    invitation, _ = invitation_create(program=program, email="gus@example.test", invited_by=manager)
    before = rows()
    for service in (invitation_revoke, invitation_resend):
        with pytest.raises(NotFound):
            service(invitation=invitation, actor=other_manager)
        with pytest.raises(NotAllowed):
            service(invitation=invitation, actor=moderator)
    assert rows() == before


# --- program staff ------------------------------------------------------------------------------


def test_a_manager_grants_and_revokes_the_moderator_role(program, manager):
    person = UserFactory(email="newmod@example.test")
    row = program_staff_grant(program=program, user=person, role=ProgramStaff.Role.MODERATOR, actor=manager)
    assert has_role(person, MODERATOR)
    event = AuditEvent.objects.get(action="program.staff_granted")
    assert (event.actor, event.subject, event.data["role"]) == (manager, person, "moderator")
    with pytest.raises(Conflict):
        program_staff_grant(program=program, user=person, role=ProgramStaff.Role.MODERATOR, actor=manager)
    program_staff_revoke(staff=row, actor=manager)
    person.refresh_from_db()
    assert not ProgramStaff.objects.filter(user=person).exists()
    assert MODERATOR not in roles_of(type(person).objects.get(pk=person.pk))  # their last moderator role
    assert AuditEvent.objects.filter(action="program.staff_revoked", subject=person).count() == 1


def test_a_manager_cannot_grant_or_revoke_the_manager_role_but_an_admin_can(program, manager, admin_user):
    person = UserFactory(email="newmgr@example.test")
    before = rows()
    with pytest.raises(NotAllowed, match="administrator"):
        program_staff_grant(program=program, user=person, role=ProgramStaff.Role.MANAGER, actor=manager)
    assert rows() == before
    row = program_staff_grant(program=program, user=person, role=ProgramStaff.Role.MANAGER, actor=admin_user)
    assert has_role(person, PROGRAM_MANAGER)
    with pytest.raises(NotAllowed):
        program_staff_revoke(staff=row, actor=manager)
    program_staff_revoke(staff=row, actor=admin_user)
    assert not ProgramStaff.objects.filter(pk=row.pk).exists()


def test_nobody_grants_a_role_to_themself(program, manager, admin_user):
    before = rows()
    with pytest.raises(SelfDealing):
        program_staff_grant(program=program, user=manager, role=ProgramStaff.Role.MODERATOR, actor=manager)
    with pytest.raises(SelfDealing):
        program_staff_grant(program=program, user=admin_user, role=ProgramStaff.Role.MANAGER, actor=admin_user)
    own = ProgramStaff.objects.get(user=manager, program=program)
    with pytest.raises(NotAllowed):
        program_staff_revoke(staff=own, actor=manager)
    assert rows() == before


def test_staff_of_another_program_cannot_grant_here(program, other_manager, moderator):
    person = UserFactory(email="someone@example.test")
    before = rows()
    with pytest.raises(NotFound):
        program_staff_grant(program=program, user=person, role=ProgramStaff.Role.MODERATOR, actor=other_manager)
    with pytest.raises(NotAllowed):
        program_staff_grant(program=program, user=person, role=ProgramStaff.Role.MODERATOR, actor=moderator)
    with pytest.raises(InvalidInput):
        program_staff_grant(program=program, user=person, role="owner", actor=moderator)
    assert rows() == before


# --- rate cards ---------------------------------------------------------------------------------


def test_a_draft_becomes_current_only_when_published_and_a_published_card_is_never_edited(program, manager):
    v1 = rate_card_draft(program=program, actor=manager, **TERMS)
    assert v1.version == 1 and current_rate_card(program_id=program.pk) is None
    rate_card_publish(card=v1, actor=manager)
    assert current_rate_card(program_id=program.pk).pk == v1.pk
    v2 = rate_card_draft(program=program, actor=manager, **{**TERMS, "hourly_rate_minor": 3000})
    assert v2.version == 2 and v2.pk != v1.pk
    # Saving the draft again edits the draft, not a new version, and never the published card.
    v2b = rate_card_draft(program=program, actor=manager, **{**TERMS, "hourly_rate_minor": 3200})
    assert v2b.pk == v2.pk and RateCard.objects.filter(program=program).count() == 2
    v1.refresh_from_db()
    assert v1.hourly_rate_minor == 2500 and current_rate_card(program_id=program.pk).pk == v1.pk
    rate_card_publish(card=v2, actor=manager)
    current = current_rate_card(program_id=program.pk)
    assert (current.pk, current.hourly_rate_minor) == (v2.pk, 3200)
    with pytest.raises(RateCardImmutable):
        rate_card_publish(card=v2, actor=manager)
    drafted = AuditEvent.objects.filter(action="rate_card.drafted").order_by("id")
    assert drafted.last().data["before"]["hourly_rate_minor"] == 3000
    assert drafted.last().data["after"]["hourly_rate_minor"] == 3200
    published = AuditEvent.objects.filter(action="rate_card.published").order_by("id").last()
    assert published.data == {"version": 2, "currency": "EUR", "replaces_version": 1}


def test_the_engine_never_writes_into_a_published_card(program):
    card, _ = rate_card_save_draft(program_id=program.pk, terms=TERMS)
    RateCard.objects.filter(pk=card.pk).update(published_at=timezone.now())
    again, before = rate_card_save_draft(program_id=program.pk, terms={**TERMS, "hourly_rate_minor": 1})
    assert again.pk != card.pk and again.version == 2 and before == {}
    card.refresh_from_db()
    assert card.hourly_rate_minor == 2500


@pytest.mark.parametrize(
    "change,error,field",
    [
        ({"hourly_rate_minor": 0}, InvalidInput, "hourly_rate_minor"),
        ({"share_bonus_minor": -5}, InvalidRateCard, "share_bonus_minor"),
        ({"bounty_low_minor": 2.5}, InvalidRateCard, "bounty_low_minor"),
        ({"currency": "EURO"}, InvalidRateCard, "currency"),
        ({"daily_time_cap_minutes": 0}, InvalidRateCard, "daily_time_cap_minutes"),
    ],
)
def test_bad_rate_card_terms_are_field_errors_and_write_nothing(program, manager, change, error, field):
    before = rows()
    with pytest.raises(error) as raised:
        rate_card_draft(program=program, actor=manager, **{**TERMS, **change})
    assert raised.value.field == field
    assert rows() == before


def test_rate_cards_of_another_program_are_not_found_and_moderators_are_refused(
    program, manager, other_manager, moderator
):
    draft = rate_card_draft(program=program, actor=manager, **TERMS)
    before = rows()
    with pytest.raises(NotFound):
        rate_card_draft(program=program, actor=other_manager, **TERMS)
    with pytest.raises(NotFound):
        rate_card_publish(card=draft, actor=other_manager)
    with pytest.raises(NotAllowed):
        rate_card_publish(card=draft, actor=moderator)
    assert rows() == before


# --- consent documents --------------------------------------------------------------------------


def test_a_consent_draft_is_published_as_a_new_version_and_artists_must_sign_again(program, manager, artist):
    draft = consent_document_draft(program=program, actor=manager, title="Agreement v2", body="# New terms")
    assert draft.version == 2 and draft.published_at is None
    again = consent_document_draft(program=program, actor=manager, title="Agreement v2", body="# Newer terms")
    assert again.pk == draft.pk and ConsentDocument.objects.filter(program=program).count() == 2
    assert active_consent(artist=artist, program=program) is not None
    consent_document_publish(document=again, actor=manager)
    assert active_consent(artist=artist, program=program) is None
    assert AuditEvent.objects.filter(action="consent.document_drafted", actor=manager).count() == 2


def test_consent_drafts_refuse_empty_text_and_other_programs_managers(program, other_manager, manager, moderator):
    before = rows()
    with pytest.raises(InvalidInput) as error:
        consent_document_draft(program=program, actor=manager, title="T", body="  ")
    assert error.value.field == "body"
    with pytest.raises(NotFound):
        consent_document_draft(program=program, actor=other_manager, title="T", body="B")
    with pytest.raises(NotAllowed):
        consent_document_draft(program=program, actor=moderator, title="T", body="B")
    assert rows() == before


# --- pages: generated from the console's URL patterns -------------------------------------------


def _objects(program, manager) -> dict[str, int]:
    """One object of the program for each console route that names one (by route name)."""
    invitation, _ = invitation_create(program=program, email=f"route-{program.slug}@example.test", invited_by=manager)
    applicant = make_artist(email=f"applicant-{program.slug}@example.test")
    application = Application.objects.create(
        program=program, artist=applicant, portfolio_url="https://a.example", statement="Let me test"
    )
    tester = make_artist(email=f"tester-{program.slug}@example.test")
    enrollment = enroll(tester, program)
    card = RateCard.objects.create(program=program, version=1, **TERMS)
    document = ConsentDocument.objects.create(program=program, version=2, title="Draft", body="Draft body")
    moderator = UserFactory(email=f"route-mod-{program.slug}@example.test", roles=[MODERATOR])
    staff = add_staff(moderator, program, ProgramStaff.Role.MODERATOR)
    return {
        "console_invitation_resend": invitation.pk,
        "console_invitation_revoke": invitation.pk,
        "console_application_decide": application.pk,
        "console_enrollment_suspend": enrollment.pk,
        "console_enrollment_reinstate": enrollment.pk,
        "console_rate_card_publish": card.pk,
        "console_consent_publish": document.pk,
        "console_staff_revoke": staff.pk,
        "console_task_close": _task(program, manager).pk,
    }


def _task(program, manager):
    import datetime as dt

    from django.utils import timezone

    from tester_platform.labour.models import Task

    return Task.objects.create(
        program=program,
        title="Route task",
        instructions="Try it",
        category="quality",
        estimated_minutes=10,
        pay="hourly",
        currency="EUR",
        capacity=1,
        due_at=timezone.now() + dt.timedelta(days=1),
        created_by=manager,
    )


CONSOLE_ROUTES = [p for p in dashboard_urls.urlpatterns if isinstance(p, URLPattern) and p.name.startswith("console_")]


def _url(route: URLPattern, slug: str, objects: dict[str, int]) -> str:
    kwargs = {"slug": slug}
    if "pk" in route.pattern.converters:
        assert route.name in objects, f"add an object for the new console route {route.name} to _objects()"
        kwargs["pk"] = objects[route.name]
    return reverse(f"dashboard:{route.name}", kwargs=kwargs)


def test_every_console_route_is_per_program():
    assert len(CONSOLE_ROUTES) >= 18
    for route in CONSOLE_ROUTES:
        assert "slug" in route.pattern.converters, route.name


@pytest.mark.parametrize("route", CONSOLE_ROUTES, ids=[r.name for r in CONSOLE_ROUTES])
def test_each_console_route_answers_its_manager_and_is_404_to_a_manager_of_another_program(
    client, program, other_program, manager, other_manager, route
):
    objects = _objects(program, manager)
    url = _url(route, program.slug, objects)
    is_action = route.callback.console_action
    client.force_login(manager)
    assert client.get(url).status_code == (405 if is_action else 200)
    client.force_login(other_manager)
    assert client.get(url).status_code == 404
    before = rows()
    assert (
        client.post(url, {"reason": "x", "decision": "accept", "name": "x", "emails": "a@example.test"}).status_code
        == 404
    )
    assert rows() == before
    # The manager of program A naming program B's object under A's address: 404 too.
    if "pk" in route.pattern.converters:
        theirs = _objects(other_program, other_manager)
        client.force_login(manager)
        assert (
            client.post(
                reverse(f"dashboard:{route.name}", kwargs={"slug": program.slug, "pk": theirs[route.name]})
            ).status_code
            == 404
        )


@pytest.mark.parametrize(
    "who,status", [("moderator", 403), ("finance_user", 403), ("artist", 403), ("admin_user", 200)]
)
def test_console_pages_refuse_staff_who_do_not_manage_the_program(client, request, program, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("dashboard:console_settings", args=[program.slug])).status_code == status


def test_the_console_index_lists_only_the_managers_programs(client, program, other_program, manager, moderator):
    client.force_login(manager)
    page = client.get(reverse("dashboard:console")).content.decode()
    assert program.name in page and other_program.name not in page
    client.force_login(moderator)
    assert client.get(reverse("dashboard:console")).status_code == 403


def test_the_dashboard_links_the_console_for_managers_only(client, program, manager, moderator):
    client.force_login(manager)
    assert reverse("dashboard:console_settings", args=[program.slug]) in client.get("/dashboard/").content.decode()
    client.force_login(moderator)
    page = client.get("/dashboard/").content.decode()
    assert program.name in page and "/dashboard/console/" not in page


# --- pages: forms and what they show -------------------------------------------------------------


def test_a_cap_beyond_the_model_comes_back_as_a_field_error_on_the_settings_page(client, program, manager):
    client.force_login(manager)
    data = {
        "name": program.name,
        "description": "",
        "daily_compute_seconds": 600,
        "max_concurrent_jobs": 2,
        "max_resolution": "1080p",
        "max_duration_seconds": 5,
        "share_review_hours": 48,
        "share_approve_on_expiry": "on",
    }
    before = rows()
    response = client.post(reverse("dashboard:console_settings", args=[program.slug]), data)
    assert response.status_code == 400
    assert "cannot render 1080p" in response.content.decode()
    assert rows() == before
    response = client.post(
        reverse("dashboard:console_settings", args=[program.slug]),
        {**data, "max_resolution": "preview", "daily_compute_seconds": 1200},
    )
    assert response.status_code == 302
    program.refresh_from_db()
    assert program.daily_compute_seconds == 1200


def test_a_pasted_list_with_a_bad_line_sends_nothing_and_names_the_line(client, program, manager):
    client.force_login(manager)
    url = reverse("dashboard:console_invitations", args=[program.slug])
    before = rows()
    response = client.post(url, {"emails": "ana@example.test, ben@example.test\nnope\ncleo@example.test"})
    assert response.status_code == 400
    assert "Line 2: “nope” is not a valid email address." in response.content.decode()
    assert rows() == before
    response = client.post(
        url, {"emails": "ana@example.test, ben@example.test;\ncleo@example.test\nana@example.test"}, follow=True
    )
    assert "3 invitations sent. Skipped: ana@example.test (listed more than once)." in response.content.decode()
    assert Invitation.objects.filter(program=program).count() == 3


def test_a_csv_upload_reads_the_email_column(client, program, manager):
    client.force_login(manager)
    upload = SimpleUploadedFile(
        "testers.csv", b"\xef\xbb\xbfname,Email\nAna,ana@example.test\nBen,ben@example.test\n", content_type="text/csv"
    )
    response = client.post(reverse("dashboard:console_invitations", args=[program.slug]), {"csv_file": upload})
    assert response.status_code == 302
    assert sorted(Invitation.objects.values_list("email", flat=True)) == ["ana@example.test", "ben@example.test"]
    bad = SimpleUploadedFile("t.csv", b"ana@example.test\nwho?\n", content_type="text/csv")
    response = client.post(reverse("dashboard:console_invitations", args=[program.slug]), {"csv_file": bad})
    assert response.status_code == 400
    assert "CSV row 2: “who?” is not a valid email address." in response.content.decode()
    assert Invitation.objects.count() == 2


def test_rate_cards_are_entered_and_shown_as_money(client, program, manager):
    client.force_login(manager)
    url = reverse("dashboard:console_rate_cards", args=[program.slug])
    money = {
        "hourly_rate_minor": "25.00",
        "pay_floor_hourly_minor": "12",
        "share_bonus_minor": "5.5",
        "bounty_low_minor": "3.00",
        "bounty_medium_minor": "10.00",
        "bounty_high_minor": "25.00",
        "bounty_critical_minor": "50.00",
        "marketing_licence_minor": "20.00",
        "minimum_payout_minor": "10.00",
    }
    form = {"currency": "EUR", "daily_time_cap_minutes": 600, "notes": "", **money}
    bad = client.post(url, {**form, "hourly_rate_minor": "25,00"})
    assert bad.status_code == 400 and "without commas" in bad.content.decode()
    assert RateCard.objects.count() == 0
    assert client.post(url, form).status_code == 302
    card = RateCard.objects.get()
    assert (card.hourly_rate_minor, card.pay_floor_hourly_minor, card.share_bonus_minor) == (2500, 1200, 550)
    page = client.get(url).content.decode()
    assert "€25.00 an hour" in page and "€5.50 each" in page and "2500" not in page
    assert 'value="25.00"' in page  # the draft form shows money too
    response = client.post(reverse("dashboard:console_rate_card_publish", args=[program.slug, card.pk]), follow=True)
    assert "version 1 is published" in response.content.decode()
    assert current_rate_card(program_id=program.pk).pk == card.pk
    for hourly in ("27.50", "28.00"):  # a new draft (version 2), then the same draft edited
        assert client.post(url, {**form, "hourly_rate_minor": hourly}).status_code == 302
    audit = client.get(reverse("dashboard:console_audit", args=[program.slug])).content.decode()
    assert "hourly rate:</span> €27.50 → €28.00" in audit and "share bonus:</span> €5.50" in audit
    assert "2500" not in audit and "2750" not in audit


def test_applications_are_accepted_or_declined_with_a_reason(client, program, manager):
    ana, ben = make_artist(email="ana@example.test"), make_artist(email="ben@example.test")
    a = Application.objects.create(program=program, artist=ana, portfolio_url="https://ana.example", statement="Hi")
    b = Application.objects.create(program=program, artist=ben, portfolio_url="https://ben.example", statement="Hi")
    client.force_login(manager)
    page = client.get(reverse("dashboard:console_applications", args=[program.slug])).content.decode()
    assert "ana@example.test" in page and "ben@example.test" in page
    decide = lambda app, **data: client.post(  # noqa: E731
        reverse("dashboard:console_application_decide", args=[program.slug, app.pk]), data, follow=True
    )
    assert "Give the artist a reason" in decide(b, decision="decline").content.decode()
    assert Application.objects.get(pk=b.pk).status == "submitted"
    decide(b, decision="decline", reason="Portfolio does not show video work.")
    decide(a, decision="accept")
    assert Application.objects.get(pk=b.pk).reason == "Portfolio does not show video work."
    assert Enrollment.objects.filter(program=program, artist=ana).exists()
    assert not Enrollment.objects.filter(program=program, artist=ben).exists()


def test_a_suspension_reason_reaches_the_artists_dashboard_and_audit_page(client, program, manager, artist):
    enrollment = Enrollment.objects.get(program=program, artist=artist)
    client.force_login(manager)
    url = reverse("dashboard:console_enrollment_suspend", args=[program.slug, enrollment.pk])
    response = client.post(url, {"reason": ""}, follow=True)
    assert "Say why" in response.content.decode()
    client.post(url, {"reason": "Shared outputs before approval."})
    assert Enrollment.objects.get(pk=enrollment.pk).status == "suspended"
    listing = client.get(reverse("dashboard:console_enrollments", args=[program.slug]) + "?status=suspended")
    assert "Shared outputs before approval." in listing.content.decode()
    client.force_login(artist)
    assert "Suspended: Shared outputs before approval." in client.get("/").content.decode()
    activity = client.get(reverse("portal:activity")).content.decode()
    assert "enrollment.suspended" in activity and "Reason: Shared outputs before approval." in activity
    client.force_login(manager)
    client.post(
        reverse("dashboard:console_enrollment_reinstate", args=[program.slug, enrollment.pk]), {"reason": "Cleared up."}
    )
    assert Enrollment.objects.get(pk=enrollment.pk).status == "active"


def test_the_kill_switch_pauses_and_resumes_and_the_audit_page_shows_it(client, program, manager):
    client.force_login(manager)
    client.post(reverse("dashboard:console_pause", args=[program.slug]), {"reason": "Leak investigation"})
    program.refresh_from_db()
    assert program.status == "paused"
    page = client.get(reverse("dashboard:console_audit", args=[program.slug])).content.decode()
    assert "program.paused" in page and "Leak investigation" in page
    client.post(reverse("dashboard:console_resume", args=[program.slug]))
    program.refresh_from_db()
    assert program.status == "active"


def test_staff_page_grants_moderators_and_offers_the_manager_role_to_admins_only(client, program, manager, admin_user):
    UserFactory(email="newmod@example.test")
    client.force_login(manager)
    url = reverse("dashboard:console_staff", args=[program.slug])
    assert 'value="program_manager"' not in client.get(url).content.decode()
    response = client.post(url, {"email": "nobody@example.test", "role": "moderator"})
    assert response.status_code == 400 and "No account has this email" in response.content.decode()
    assert client.post(url, {"email": "NewMod@example.test", "role": "moderator"}).status_code == 302
    assert ProgramStaff.objects.filter(program=program, user__email="newmod@example.test").exists()
    response = client.post(url, {"email": manager.email, "role": "moderator"})
    # the policy refuses it (self-dealing): the form shows why, with the policy's 403
    assert response.status_code == 403 and "themself" in response.content.decode()
    client.force_login(admin_user)
    assert 'value="program_manager"' in client.get(url).content.decode()
