"""The Django admin is a superuser's read-only window; writes happen only through admin
actions that call the services (audited, policy-checked). Managers use the staff console."""

import pytest

from generation.models import GenerationJob
from tester_platform.audit.models import AuditEvent
from tester_platform.consent.models import ConsentDocument
from tester_platform.programs.models import Enrollment, Program, ProgramStaff
from tests.factories import ProgramFactory

ADMIN_PATHS = (
    "/admin/",
    "/admin/programs/program/",
    "/admin/programs/invitation/",
    "/admin/programs/application/",
    "/admin/programs/enrollment/",
    "/admin/consent/consentdocument/",
    "/admin/payments/ratecard/",
)


@pytest.mark.parametrize("who", ["manager", "moderator", "finance_user"])
def test_staff_who_are_not_superusers_get_no_admin_at_all(client, who, request, program):
    from tester_platform.accounts.services import role_groups_sync

    role_groups_sync()
    user = request.getfixturevalue(who)
    user.is_staff = True  # even with Django's staff flag: the admin asks for a superuser
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    for path in ADMIN_PATHS + (f"/admin/programs/program/{program.pk}/change/",):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], path


def test_a_manager_cannot_grant_themself_a_program_through_the_admin(client, manager, program):
    other = ProgramFactory(slug="not-mine")
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    client.force_login(manager)
    response = client.post(
        f"/admin/programs/program/{other.pk}/change/",
        {
            "name": other.name,
            "slug": other.slug,
            "status": other.status,
            "staff-TOTAL_FORMS": "1",
            "staff-INITIAL_FORMS": "0",
            "staff-0-user": manager.pk,
            "staff-0-role": "program_manager",
        },
    )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not ProgramStaff.objects.filter(program=other, user=manager).exists()


def test_superusers_see_domain_models_read_only(client, admin_user, program, artist):
    client.force_login(admin_user)
    for path in ADMIN_PATHS:
        assert client.get(path).status_code == 200, path
    page = client.get(f"/admin/programs/program/{program.pk}/change/")
    assert page.status_code == 200 and b'name="name"' not in page.content
    # Direct writes are refused: no change, no add, no delete of a domain row.
    before = (Program.objects.count(), Program.objects.get(pk=program.pk).status)
    assert (
        client.post(
            f"/admin/programs/program/{program.pk}/change/",
            {"name": "Renamed", "slug": program.slug, "status": "closed"},
        ).status_code
        == 403
    )
    assert client.get("/admin/programs/program/add/").status_code == 403
    assert client.post(f"/admin/programs/program/{program.pk}/delete/", {"post": "yes"}).status_code == 403
    enrollment = Enrollment.objects.get(artist=artist, program=program)
    assert (
        client.post(f"/admin/programs/enrollment/{enrollment.pk}/change/", {"status": "suspended"}).status_code == 403
    )
    assert (Program.objects.count(), Program.objects.get(pk=program.pk).status) == before
    assert Enrollment.objects.get(pk=enrollment.pk).status == enrollment.status


def test_the_admins_pause_action_is_the_kill_switch_service(client, admin_user, program, artist):
    from tests.factories import make_output

    program.status = Program.Status.ACTIVE
    program.save(update_fields=["status"])
    job = make_output(artist, program)
    GenerationJob.objects.filter(pk=job.pk).update(status="queued", progress=0)  # set-up: a job waiting
    client.force_login(admin_user)
    response = client.post("/admin/programs/program/", {"action": "pause", "_selected_action": [program.pk]})
    assert response.status_code == 302
    assert Program.objects.get(pk=program.pk).status == Program.Status.PAUSED
    assert GenerationJob.objects.get(pk=job.pk).status == "cancelled"
    event = AuditEvent.objects.get(action="program.paused")
    assert event.actor_id == admin_user.pk and event.data["cancelled_jobs"] == [job.pk]


def test_a_published_consent_document_is_read_only_in_the_admin(client, admin_user, program):
    document = ConsentDocument.objects.get(program=program)
    client.force_login(admin_user)
    page = client.get(f"/admin/consent/consentdocument/{document.pk}/change/")
    assert page.status_code == 200
    assert b'name="body"' not in page.content and document.title.encode() in page.content
