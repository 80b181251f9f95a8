"""Engine reads: usage totals and the budget left, for the platform's pages, API and reports."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils import timezone

from generation.models import GenerationJob, UsageRecord, Worker
from generation.services import Budget, _charged_today, _day_bounds


def usage_records(
    *,
    artist: Any = None,
    program_id: int | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> QuerySet[UsageRecord]:
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


def usage_totals(
    *,
    artist: Any = None,
    program_id: int | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> dict[str, float | int]:
    agg = usage_records(artist=artist, program_id=program_id, start=start, end=end).aggregate(
        jobs=Count("id"),
        compute_seconds=Sum("compute_seconds"),
        wall_seconds=Sum("wall_seconds"),
        queue_seconds=Sum("queue_seconds"),
        frames=Sum("frames"),
        cancelled=Count("id", filter=Q(cancelled=True)),
    )
    return {k: (v or 0) for k, v in agg.items()}


def quota_left(
    *, artist: Any, program_id: int, budget: Budget, day: dt.date | None = None
) -> dict[str, float | int | str]:
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
    throughput = throughput_stats(since=since)["workers"]
    rows = []
    for w in Worker.objects.all():
        agg = w.usage_records.filter(created_at__gte=since).aggregate(
            jobs=Count("id"), compute=Sum("compute_seconds"), wall=Sum("wall_seconds"), avg_queue=Avg("queue_seconds")
        )
        rows.append(
            {
                "worker": w,
                "jobs_24h": agg["jobs"] or 0,
                "compute_seconds_24h": agg["compute"] or 0.0,
                "wall_seconds_24h": agg["wall"] or 0.0,
                "avg_queue_seconds_24h": agg["avg_queue"] or 0.0,
                "throughput": throughput.get(w.pk),
            }
        )
    return rows


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def throughput_stats(*, since: dt.datetime | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Issue 18's figures from stored usage rows, overall and per worker, over a window
    (24 hours by default): jobs per GPU-second (jobs over the compute of the calls that
    made them, each batched call counted once), batches by size, busy % (that compute over
    the window, from the worker's start when later) and queue wait p50/p95."""
    now = now or timezone.now()
    since = since or now - dt.timedelta(hours=24)
    window = max(1e-9, (now - since).total_seconds())
    rows = UsageRecord.objects.filter(created_at__gte=since, created_at__lt=now).values_list(
        "pk", "worker_id", "batch_id", "batch_size", "batch_compute_seconds", "compute_seconds", "queue_seconds"
    )

    def empty() -> dict[str, Any]:
        return {"jobs": 0, "gpu_seconds": 0.0, "calls": {}, "waits": []}

    overall = empty()
    per_worker: dict[int | None, dict[str, Any]] = {}
    for pk, worker_id, batch_id, size, call, own, wait in rows.iterator(chunk_size=2000):
        # A batched call is counted once (by its id); a job run alone is its own call
        # (its whole compute: batch_compute_seconds is 0 on rows written before batching).
        key = batch_id or f"job-{pk}"
        seconds = float(call or own or 0.0)
        for acc in (overall, per_worker.setdefault(worker_id, empty())):
            acc["jobs"] += 1
            acc["waits"].append(float(wait or 0.0))
            if key not in acc["calls"]:
                acc["calls"][key] = (int(size or 1), seconds)

    started = dict(Worker.objects.values_list("pk", "started_at"))

    def summary(acc: dict[str, Any], span: float) -> dict[str, Any]:
        gpu = sum(s for _, s in acc["calls"].values())
        sizes: dict[int, int] = {}
        for size, _ in acc["calls"].values():
            sizes[size] = sizes.get(size, 0) + 1
        calls = len(acc["calls"])
        return {
            "jobs": acc["jobs"],
            "calls": calls,
            "gpu_seconds": round(gpu, 3),
            "jobs_per_gpu_second": round(acc["jobs"] / gpu, 4) if gpu else 0.0,
            "batch_sizes": dict(sorted(sizes.items())),
            "mean_batch_size": round(acc["jobs"] / calls, 2) if calls else 0.0,
            "busy_percent": round(min(100.0, 100 * gpu / max(1e-9, span)), 1),
            "queue_wait_p50": round(_percentile(acc["waits"], 50), 3),
            "queue_wait_p95": round(_percentile(acc["waits"], 95), 3),
        }

    workers: dict[int, dict[str, Any]] = {}
    for wid, acc in per_worker.items():
        if wid is None:  # jobs run before any worker row existed
            continue
        start = started.get(wid)
        span = (now - max(since, start)).total_seconds() if start else window
        workers[wid] = summary(acc, span)
    count = max(1, len([w for w in per_worker if w is not None]))
    total = summary(overall, window * count)  # busy over all workers that did work
    return {"since": since, "until": now, "overall": total, "workers": workers}
