from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from tester_platform.programs.models import Invitation


@shared_task(acks_late=True)
def send_invitation_email(invitation_id: int, token: str) -> None:
    invitation = Invitation.objects.select_related("program").filter(pk=invitation_id).first()
    if invitation is None or invitation.accepted_at or invitation.revoked_at:
        return
    link = settings.SITE_URL + reverse("portal:invitation", args=[token])
    context = {"invitation": invitation, "program": invitation.program, "link": link}
    send_mail(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}You are invited to test {invitation.program.name}",
        message=render_to_string("emails/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )
