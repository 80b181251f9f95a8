from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail, send_mass_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tester_platform.programs.models import ProgramStaff
from tester_platform.sharing.models import ShareRequest
from tester_platform.sharing.services import share_requests_resolve_overdue

DIGEST_WINDOW = timedelta(hours=6)


@shared_task(acks_late=True)
def notify_share_decision(share_request_id: int) -> None:
    share_request = ShareRequest.objects.select_related("program", "artist", "reason").get(pk=share_request_id)
    context = {
        "r": share_request,
        "link": settings.SITE_URL + reverse("sharing:detail", args=[share_request.pk]),
        "public_link": settings.SITE_URL + reverse("share_public", args=[share_request.public_slug])
        if share_request.public_slug else "",
    }
    send_mail(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Share request #{share_request.pk}: "
                f"{share_request.get_status_display()}",
        message=render_to_string("emails/share_decision.txt", context),
        from_email=None,
        recipient_list=[share_request.artist.email],
    )


@shared_task
def resolve_overdue_share_requests() -> list[int]:
    return share_requests_resolve_overdue()


@shared_task
def send_moderator_digest() -> int:
    """Each program's moderators hear about requests due within the next hours."""
    soon = timezone.now() + DIGEST_WINDOW
    due = ShareRequest.objects.filter(status__in=ShareRequest.AWAITING_DECISION, due_at__lte=soon).select_related(
        "program").order_by("due_at")
    by_program: dict[int, list[ShareRequest]] = {}
    for share_request in due:
        by_program.setdefault(share_request.program_id, []).append(share_request)
    messages = []
    for program_id, requests in by_program.items():
        emails = list(ProgramStaff.objects.filter(program_id=program_id).values_list("user__email", flat=True)
                      .distinct())
        if not emails:
            continue
        body = render_to_string("emails/moderator_digest.txt", {
            "requests": requests, "program": requests[0].program,
            "link": settings.SITE_URL + reverse("sharing_review:queue")})
        subject = f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{len(requests)} share request(s) due soon"
        messages.extend((subject, body, None, [email]) for email in emails)
    return send_mass_mail(messages) if messages else 0
