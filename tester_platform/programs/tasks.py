from celery import shared_task
from django.urls import reverse

from tester_platform.notifications.services import absolute_url, email_send_to_address
from tester_platform.programs.models import Invitation


@shared_task(acks_late=True)
def send_invitation_email(invitation_id: int, token: str) -> None:
    """The one email without an inbox (the person may have no account yet): built by the
    notification service all the same (multipart, link from SITE_URL)."""
    invitation = Invitation.objects.select_related("program").filter(pk=invitation_id).first()
    if invitation is None or invitation.accepted_at or invitation.revoked_at:
        return
    link = absolute_url(reverse("portal:invitation", args=[token]))
    email_send_to_address(
        to=invitation.email,
        subject=f"You are invited to test {invitation.program.name}",
        template="invitation",
        context={"invitation": invitation, "program": invitation.program, "link": link},
    )
