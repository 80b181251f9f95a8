"""Prometheus text exposition at /metrics, behind a bearer token (METRICS_TOKEN)."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum
from django.http import Http404, HttpResponse

from generation.conf import profile_queues
from generation.models import GenerationJob, UsageRecord, Worker
from generation.selectors import throughput_stats
from tester_platform.celery import app as celery_app


def queue_depths() -> dict[str, int]:
    """Messages waiting per queue (the default queue and one per model profile)."""
    depths = {}
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in ["celery", *profile_queues()]:
            try:
                depths[queue] = int(channel._size(queue))
            except Exception:  # a broker that cannot say reports nothing rather than failing the scrape
                continue
    return depths


def _labels(**labels) -> str:
    inner = ",".join(f'{k}="{str(v).replace(chr(34), "")}"' for k, v in labels.items())
    return "{" + inner + "}" if inner else ""


def collect() -> list[str]:
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[dict, float]]):
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lines.append(f"{name}{_labels(**labels)} {value}")

    metric(
        "atelier_queue_depth",
        "gauge",
        "Messages waiting on each broker queue.",
        [({"queue": q}, n) for q, n in queue_depths().items()],
    )
    by_status = dict(GenerationJob.objects.values_list("status").annotate(n=Count("id")))
    metric(
        "atelier_generation_jobs",
        "gauge",
        "Generation jobs by status.",
        [({"status": s}, by_status.get(s, 0)) for s in GenerationJob.Status.values],
    )
    compute = UsageRecord.objects.values("model_profile").annotate(s=Sum("compute_seconds"), n=Count("id"))
    metric(
        "atelier_compute_seconds_total",
        "counter",
        "Metered compute seconds by model profile.",
        [({"profile": row["model_profile"]}, round(row["s"] or 0.0, 3)) for row in compute],
    )
    metric(
        "atelier_generations_metered_total",
        "counter",
        "Usage records by model profile.",
        [({"profile": row["model_profile"]}, row["n"]) for row in compute],
    )
    workers = dict(Worker.objects.values_list("status").annotate(n=Count("id")))
    metric(
        "atelier_workers",
        "gauge",
        "GPU workers by state.",
        [({"status": s}, workers.get(s, 0)) for s in Worker.Status.values],
    )
    throughput = throughput_stats()  # the last 24 hours, from stored usage rows
    hosts = dict(Worker.objects.values_list("pk", "hostname"))
    scopes: list[tuple[dict[str, Any], dict[str, Any]]] = [({}, throughput["overall"])]
    scopes += [({"worker": hosts.get(pk, pk)}, t) for pk, t in throughput["workers"].items()]
    metric(
        "atelier_jobs_per_gpu_second",
        "gauge",
        "Jobs finished per GPU-second of pipeline compute (24 h).",
        [(labels, t["jobs_per_gpu_second"]) for labels, t in scopes],
    )
    metric(
        "atelier_gpu_busy_ratio",
        "gauge",
        "Share of the workers' time spent in pipeline calls (24 h).",
        [(labels, round(t["busy_percent"] / 100, 4)) for labels, t in scopes],
    )
    metric(
        "atelier_pipeline_calls_by_batch_size",
        "gauge",
        "Pipeline calls by how many jobs they carried (24 h).",
        [({"size": size}, n) for size, n in throughput["overall"]["batch_sizes"].items()],
    )
    metric(
        "atelier_queue_wait_seconds",
        "gauge",
        "Queue wait of generation jobs, p50 and p95 (24 h).",
        [
            ({"quantile": "0.5"}, throughput["overall"]["queue_wait_p50"]),
            ({"quantile": "0.95"}, throughput["overall"]["queue_wait_p95"]),
        ],
    )
    for extra in _extra_collectors():
        lines.extend(extra())
    return lines


def _extra_collectors():
    """Families contributed by the workflow apps (sharing, access, finance)."""
    from tester_platform.access.models import AccessFlag
    from tester_platform.sharing.models import ShareRequest

    def shares():
        rows = dict(ShareRequest.objects.values_list("status").annotate(n=Count("id")))
        return [
            "# HELP atelier_share_requests Share requests by status.",
            "# TYPE atelier_share_requests gauge",
            *[f'atelier_share_requests{{status="{s}"}} {rows.get(s, 0)}' for s in ShareRequest.Status.values],
        ]

    def flags():
        return [
            "# HELP atelier_access_flags_open Open access flags (suspended tokens or artists).",
            "# TYPE atelier_access_flags_open gauge",
            f"atelier_access_flags_open {AccessFlag.objects.filter(status='open').count()}",
        ]

    def payouts():
        from payments.models import Payout, WebhookEvent
        from payments.selectors import payout_totals_by_status

        rows = payout_totals_by_status()
        lines = ["# HELP atelier_payouts Payouts by status and currency.", "# TYPE atelier_payouts gauge"]
        lines += [f"atelier_payouts{_labels(status=r['status'], currency=r['currency'])} {r['count']}" for r in rows]
        lines += [
            "# HELP atelier_payout_amount_minor Payout amounts by status and currency, in minor units.",
            "# TYPE atelier_payout_amount_minor gauge",
        ]
        lines += [
            f"atelier_payout_amount_minor{_labels(status=r['status'], currency=r['currency'])} {r['amount_minor']}"
            for r in rows
        ]
        if not rows:
            lines += [f"atelier_payouts{_labels(status=s, currency='EUR')} 0" for s in Payout.Status.values]
        events = dict(WebhookEvent.objects.values_list("status").annotate(n=Count("id")))
        lines += [
            "# HELP atelier_stripe_webhook_events Stripe webhook events by processing status.",
            "# TYPE atelier_stripe_webhook_events gauge",
            *[f'atelier_stripe_webhook_events{{status="{s}"}} {events.get(s, 0)}' for s in WebhookEvent.Status.values],
        ]
        return lines

    return [shares, flags, payouts]


def metrics_view(request):
    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are not enabled.")
    header = request.headers.get("Authorization", "")
    supplied = header[7:] if header.startswith("Bearer ") else ""
    if not hmac.compare_digest(supplied.encode(), settings.METRICS_TOKEN.encode()):
        response = HttpResponse("metrics need the bearer token\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse("\n".join(collect()) + "\n", content_type="text/plain; version=0.0.4; charset=utf-8")
