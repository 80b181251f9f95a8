"""/healthz: is the database answering, and is the broker reachable? Load balancers and
the demo's supervisor read the status code; people read the JSON.

The answer names the check that failed and nothing more: it is public, and an exception's
text can carry hosts, ports, user names or paths. The exception goes to the log."""
from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from tester_platform.celery import app as celery_app

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = {"database": _check_database, "broker": _check_broker}


def _passes(name: str) -> bool:
    try:
        CHECKS[name]()
    except Exception:  # a health check reports any failure rather than raising
        logger.exception("healthz: the %s check failed", name)
        return False
    return True


@never_cache
def healthz(request):
    checks = {name: "ok" if _passes(name) else "failing" for name in CHECKS}
    ok = all(result == "ok" for result in checks.values())
    return JsonResponse({"status": "ok" if ok else "failing", "checks": checks}, status=200 if ok else 503)
