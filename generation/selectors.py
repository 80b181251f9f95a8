"""Engine reads: usage totals and the budget left, for the platform's pages, API and reports."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils import timezone

from generation.models import GenerationJob, UsageRecord, Worker
from generation.services import Budget, _charged_today, _day_bounds


def usage_records(*, artist: Any = None, program_id: int | None = None, start: dt.datetime | None = None,
                  end: dt.datetime | None = None) -> QuerySet[UsageRecord]:
    qs = UsageRecord.objects.select_related("job", "worker")
    if artist is not None:
        qs = qs.filter(artist_id=getattr(artist, "pk", artist))
    if program_id is not None:
        qs = qs.filter(program_id=program_id)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lt=end)
    return qs


def usage_totals(*, artist: Any = None, program_id: int | None = None, start: dt.datetime | None = None,
                 end: dt.datetime | None = None) -> dict[str, float | int]:
    agg = usage_records(artist=artist, program_id=program_id, start=start, end=end).aggregate(
        jobs=Count("id"), compute_seconds=Sum("compute_seconds"), wall_seconds=Sum("wall_seconds"),
        queue_seconds=Sum("queue_seconds"), frames=Sum("frames"), cancelled=Count("id", filter=Q(cancelled=True)),
    )
    return {k: (v or 0) for k, v in agg.items()}


def quota_left(*, artist: Any, program_id: int, budget: Budget,
               day: dt.date | None = None) -> dict[str, float | int | str]:
    artist_id = getattr(artist, "pk", artist)
    start, end = _day_bounds(day)
    charged = _charged_today(artist_id=artist_id, program_id=program_id, start=start, end=end)
    active = GenerationJob.objects.filter(
        artist_id=artist_id, program_id=program_id, status__in=GenerationJob.ACTIVE_STATUSES
    ).count()
    return {
        "daily_compute_seconds": budget.daily_compute_seconds,
        "compute_seconds_charged_today": round(charged, 3),
        "compute_seconds_left_today": round(max(0.0, budget.daily_compute_seconds - charged), 3),
        "max_concurrent_jobs": budget.max_concurrent_jobs,
        "active_jobs": active,
        "concurrent_jobs_left": max(0, budget.max_concurrent_jobs - active),
        "resets_at": end.isoformat(),
    }


def jobs_for_artist(*, artist: Any, program_id: int | None = None) -> QuerySet[GenerationJob]:
    qs = GenerationJob.objects.filter(artist_id=getattr(artist, "pk", artist)).select_related("usage", "input_image")
    return qs.filter(program_id=program_id) if program_id is not None else qs


def worker_stats(*, since: dt.datetime | None = None) -> list[dict[str, Any]]:
    since = since or timezone.now() - dt.timedelta(hours=24)
    rows = []
    for w in Worker.objects.all():
        agg = w.usage_records.filter(created_at__gte=since).aggregate(
            jobs=Count("id"), compute=Sum("compute_seconds"), wall=Sum("wall_seconds"), avg_queue=Avg("queue_seconds"))
        rows.append({"worker": w, "jobs_24h": agg["jobs"] or 0, "compute_seconds_24h": agg["compute"] or 0.0,
                     "wall_seconds_24h": agg["wall"] or 0.0, "avg_queue_seconds_24h": agg["avg_queue"] or 0.0})
    return rows
