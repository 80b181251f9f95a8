"""/healthz: is the database answering, is the broker reachable, can media be written?
Load balancers and the demo's supervisor read the status code; people read the JSON.

The answer names the check that failed and nothing more: it is public, and an exception's
text can carry hosts, ports, user names or paths. The exception goes to the log.

It answers within DEADLINE_SECONDS whatever is down: the checks run at once, each in its
own daemon thread, and one that has not finished by the deadline is reported failing
(a black-holed broker or database accepts a connection and never answers; the clients'
own timeouts end such a thread soon after). A load balancer's probe must never hang."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from tester_platform.celery import app as celery_app

logger = logging.getLogger(__name__)

DEADLINE_SECONDS = 4.0
# Each client's own bound, inside the deadline: a dead thread should not outlive it long.
BROKER_TIMEOUT_SECONDS = 2.0


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker() -> None:
    url = getattr(settings, "CELERY_BROKER_WRITE_URL", None) or settings.CELERY_BROKER_URL
    bounded = {"socket_connect_timeout": BROKER_TIMEOUT_SECONDS, "socket_timeout": BROKER_TIMEOUT_SECONDS}
    options = bounded if url.startswith(("redis://", "rediss://", "sentinel://")) else None
    with celery_app.connection_for_write(
        url=url, connect_timeout=BROKER_TIMEOUT_SECONDS, transport_options=options
    ) as conn:
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)


def _check_media() -> None:
    from generation.storage import media_problem

    problem = media_problem()
    if problem:
        raise OSError(problem)


CHECKS = {"database": _check_database, "broker": _check_broker, "media": _check_media}


def _run(name: str, results: dict) -> None:
    try:
        CHECKS[name]()
    except Exception:  # a health check reports any failure rather than raising
        logger.exception("healthz: the %s check failed", name)
        results[name] = "failing"
    else:
        results[name] = "ok"
    finally:
        connection.close()  # this thread's own connection, if the check opened one


# The thread of each check still running from an earlier probe: a hung dependency gets
# one stuck thread per process, not one more per probe.
_running: dict[str, threading.Thread] = {}
_running_lock = threading.Lock()


def run_checks(deadline: float = DEADLINE_SECONDS) -> dict[str, str]:
    results: dict[str, str] = {}
    threads, stuck = {}, set()
    with _running_lock:
        for name in CHECKS:
            if name in _running and _running[name].is_alive():
                stuck.add(name)  # failing, without a new thread
                continue
            thread = threading.Thread(target=_run, args=(name, results), name=f"healthz-{name}", daemon=True)
            thread.start()
            threads[name] = _running[name] = thread
    end = time.monotonic() + deadline
    for thread in threads.values():
        thread.join(max(0.0, end - time.monotonic()))
    checks = {}
    for name in CHECKS:
        if name in results:
            checks[name] = results[name]
        else:
            if name in stuck:
                logger.error("healthz: the %s check is still running since an earlier probe", name)
            else:
                logger.error("healthz: the %s check did not answer within %.1f s", name, deadline)
            checks[name] = "failing"
    return checks


@never_cache
def healthz(request):
    checks = run_checks()
    ok = all(result == "ok" for result in checks.values())
    return JsonResponse({"status": "ok" if ok else "failing", "checks": checks}, status=200 if ok else 503)
