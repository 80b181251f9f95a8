"""/healthz: is the database answering, and is the broker reachable? Load balancers and
the demo's supervisor read the status code; people read the JSON."""
from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from tester_platform.celery import app as celery_app


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # a health check reports any failure rather than raising
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@never_cache
def healthz(request):
    checks = {"database": _check_database(), "broker": _check_broker()}
    ok = all(result is None for result in checks.values())
    body = {"status": "ok" if ok else "failing",
            "checks": {name: ("ok" if result is None else result) for name, result in checks.items()}}
    return JsonResponse(body, status=200 if ok else 503)
