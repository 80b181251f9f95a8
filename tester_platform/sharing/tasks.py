from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from tester_platform.notifications.models import Kind
from tester_platform.notifications.services import notify_many
from tester_platform.programs.models import ProgramStaff
from tester_platform.sharing.models import ShareRequest
from tester_platform.sharing.services import share_requests_resolve_overdue

DIGEST_WINDOW = timedelta(hours=6)


@shared_task
def resolve_overdue_share_requests() -> list[int]:
    return share_requests_resolve_overdue()


@shared_task
def send_moderator_digest() -> int:
    """Each program's moderators hear about requests due within the next hours (inbox, and
    email unless they switched it off). Returns the number of notices written."""
    soon = timezone.now() + DIGEST_WINDOW
    due = (
        ShareRequest.objects.filter(status__in=ShareRequest.AWAITING_DECISION, due_at__lte=soon)
        .select_related("program")
        .order_by("due_at")
    )
    by_program: dict[int, list[ShareRequest]] = {}
    for share_request in due:
        by_program.setdefault(share_request.program_id, []).append(share_request)
    sent = 0
    for program_id, requests in by_program.items():
        staff = list(
            get_user_model().objects.filter(pk__in=ProgramStaff.objects.filter(program_id=program_id).values("user_id"))
        )
        if not staff:
            continue
        program = requests[0].program
        outcome = "approved" if program.share_approve_on_expiry else "escalated"
        lines = [f"These share requests in {program.name} are due soon. No decision by the deadline means {outcome}."]
        lines += [
            f"- #{r.pk} due {r.due_at:%d %b %H:%M} UTC — {r.get_destination_display()}: {r.caption[:80]}"
            for r in requests
        ]
        sent += len(
            notify_many(
                users=staff,
                kind=Kind.MODERATION_DUE,
                program=program,
                title=f"{len(requests)} share request(s) due soon in {program.name}",
                body="\n".join(lines),
                link=reverse("sharing_review:queue"),
            )
        )
    return sent
