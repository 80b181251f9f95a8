"""Program managers run their programs from the Django admin."""
from tester_platform.consent.models import ConsentDocument
from tester_platform.programs.models import Invitation


def test_a_manager_manages_programs_invitations_applications_and_consent(client, manager, program):
    from tester_platform.accounts.services import role_groups_sync

    role_groups_sync()
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    client.force_login(manager)
    for path in ("/admin/programs/program/", f"/admin/programs/program/{program.pk}/change/",
                 "/admin/programs/invitation/add/", "/admin/programs/application/",
                 "/admin/consent/consentdocument/", "/admin/payments/ratecard/"):
        assert client.get(path).status_code == 200, path
    response = client.post("/admin/programs/invitation/add/", {"program": program.pk, "email": "new@example.test"})
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="new@example.test")
    assert len(invitation.token_hash) == 64


def test_a_published_consent_document_is_read_only_in_the_admin(client, admin_user, program):
    document = ConsentDocument.objects.get(program=program)
    client.force_login(admin_user)
    page = client.get(f"/admin/consent/consentdocument/{document.pk}/change/")
    assert page.status_code == 200
    assert b'name="body"' not in page.content and document.title.encode() in page.content
