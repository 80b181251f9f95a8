from __future__ import annotations

import statistics

from django.db.models import Q, QuerySet
from django.utils import timezone

from tester_platform.policy import Act, programs_for
from tester_platform.programs.models import Program
from tester_platform.sharing.models import ShareEvent, ShareRequest

DECISION_ACTIONS = ("approved", "rejected", "changes_requested", "step_approved")


def reviewable_programs(*, user) -> QuerySet[Program]:
    return programs_for(user, Act.REVIEW)


def moderation_queue(*, user, program_id=None, status=None, destination=None, overdue=False) -> QuerySet[ShareRequest]:
    """Requests a moderator can act on, soonest deadline first; a constant number of
    queries however long the queue (everything a row shows is joined in)."""
    qs = ShareRequest.objects.filter(program__in=reviewable_programs(user=user)).select_related(
        "program", "artist", "generation", "reason"
    )
    if status:
        qs = qs.filter(status=status)
    else:
        qs = qs.filter(
            Q(status__in=ShareRequest.AWAITING_DECISION)
            | Q(status="rejected", appealed_at__isnull=False, appeal_decided_at__isnull=True)
        )
    if program_id:
        qs = qs.filter(program_id=program_id)
    if destination:
        qs = qs.filter(destination=destination)
    if overdue:
        qs = qs.filter(due_at__lt=timezone.now())
    return qs.order_by("due_at", "id")


def moderator_figures(*, programs) -> list[dict]:
    """Per moderator: decisions, median time to decision, share decided within the deadline."""
    events = ShareEvent.objects.filter(
        share_request__program__in=programs, action__in=DECISION_ACTIONS, actor__isnull=False
    ).select_related("actor")
    by_actor: dict[int, dict] = {}
    for event in events:
        row = by_actor.setdefault(event.actor_id, {"moderator": event.actor, "waits": [], "on_time": 0})
        row["waits"].append(event.waited_seconds or 0.0)
        row["on_time"] += 1 if event.within_deadline else 0
    figures = []
    for row in by_actor.values():
        count = len(row["waits"])
        figures.append(
            {
                "moderator": row["moderator"],
                "decisions": count,
                "median_hours": statistics.median(row["waits"]) / 3600 if count else None,
                "within_deadline_pct": round(100 * row["on_time"] / count) if count else None,
            }
        )
    return sorted(figures, key=lambda r: -r["decisions"])
