"""Bounded health and broker calls: /healthz answers within 5 s whatever is down and names
the check that failed; a publish or a cache call against a dead broker or Redis gives up
within seconds instead of hanging the request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from django.test import override_settings

from tester_platform import health

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def black_hole():
    """A TCP port on 127.0.0.1 that accepts connections and never says a word: a broker
    behind a dead NAT or a hung process looks like this, and it is the worst case (a
    refused connection fails at once)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def refusing_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: connections are refused
    return port


def timed_get(client, path="/healthz"):
    start = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - start


@pytest.mark.parametrize("scheme", ["redis://127.0.0.1:{port}/0", "amqp://guest:guest@127.0.0.1:{port}//"])
def test_a_black_holed_broker_is_named_within_five_seconds(client, db, black_hole, scheme, caplog):
    with override_settings(CELERY_BROKER_URL=scheme.format(port=black_hole)):
        response, took = timed_get(client)
    assert took < 5.0, f"/healthz took {took:.2f} s"
    assert response.status_code == 503
    assert response.json() == {"status": "failing", "checks": {"database": "ok", "broker": "failing", "media": "ok"}}
    assert str(black_hole).encode() not in response.content  # the cause stays in the log
    assert "the broker check failed" in caplog.text or "the broker check did not answer" in caplog.text


def test_a_refusing_broker_is_named_at_once(client, db, refusing_port):
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{refusing_port}/0"):
        response, took = timed_get(client)
    assert took < 3.0 and response.status_code == 503
    assert response.json()["checks"]["broker"] == "failing"


def test_a_check_that_never_returns_is_cut_off_at_the_deadline(client, db, monkeypatch, caplog):
    released = threading.Event()
    monkeypatch.setitem(health.CHECKS, "database", lambda: released.wait(60))
    try:
        response, took = timed_get(client)
    finally:
        released.set()
        health._running["database"].join(5)  # so the next test's probe starts a fresh one
    assert health.DEADLINE_SECONDS <= took < 5.0
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "failing", "broker": "ok", "media": "ok"}
    assert "the database check did not answer within" in caplog.text


def test_a_stuck_check_gets_no_second_thread_and_the_next_probe_is_quick(client, db, monkeypatch, caplog):
    released = threading.Event()
    monkeypatch.setitem(health.CHECKS, "database", lambda: released.wait(60))
    try:
        client.get("/healthz")
        second, took = timed_get(client)
        stuck = [t for t in threading.enumerate() if t.name == "healthz-database"]
    finally:
        released.set()
        health._running["database"].join(5)  # so the next test's probe starts a fresh one
    assert took < 1.0 and second.json()["checks"]["database"] == "failing"
    assert len(stuck) == 1
    assert "the database check is still running since an earlier probe" in caplog.text


def _fresh_media(location: Path):
    return override_settings(
        STORAGES={
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(location)},
            },
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_media_folder_is_named(client, db, tmp_path):
    media = tmp_path / "media"
    (media / "_probe").mkdir(parents=True)
    for folder in (media / "_probe", media):
        folder.chmod(0o555)
    try:
        with _fresh_media(media):
            response = client.get("/healthz")
    finally:
        for folder in (media, media / "_probe"):
            folder.chmod(0o755)
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "media": "failing"}


def test_unwritable_media_is_named_even_for_root(client, db, tmp_path, caplog):
    """Root ignores file modes, so a folder that cannot exist stands in for a read-only
    one: media under a regular file (a lost mount point looks much the same)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with _fresh_media(blocker / "media"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "media": "failing"}
    assert str(tmp_path).encode() not in response.content
    assert "the media check failed" in caplog.text and "media not writable" in caplog.text


_PROBE = textwrap.dedent("""
    import json, time, django
    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from tester_platform.celery import app

    def timed(fn):
        start = time.monotonic()
        try:
            fn()
            failed = None
        except Exception as exc:
            failed = type(exc).__name__
        return {"seconds": time.monotonic() - start, "failed": failed}

    print(json.dumps({
        "transport_options": {k: v for k, v in settings.CELERY_BROKER_TRANSPORT_OPTIONS.items()
                              if k.startswith("socket")},
        "cache_options": settings.CACHES["default"].get("OPTIONS", {}),
        "publish": timed(lambda: app.send_task("atelier.nothing")),
        "cache": timed(lambda: cache.get("anything")),
    }))
""")


def _probe(tmp_path, broker_url: str, cache_url: str) -> dict:
    """The product's own settings (not the test settings) in a fresh process, pointed at
    a dead broker and a dead cache."""
    import json

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tester_platform.settings",
        "ATELIER_VAR_DIR": str(tmp_path),
        "CELERY_BROKER_URL": broker_url,
        "CACHE_URL": cache_url,
    }
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("dead", ["black_hole", "refusing_port"])
def test_publish_and_cache_calls_against_a_dead_redis_give_up_within_seconds(tmp_path, dead, request):
    port = request.getfixturevalue(dead)
    result = _probe(tmp_path, f"redis://127.0.0.1:{port}/0", f"redis://127.0.0.1:{port}/1")
    assert result["transport_options"] == {"socket_connect_timeout": 2, "socket_timeout": 3}
    assert result["cache_options"] == {"socket_connect_timeout": 2, "socket_timeout": 2}
    assert result["publish"]["failed"] and result["publish"]["seconds"] < 4.5, result
    assert result["cache"]["failed"] and result["cache"]["seconds"] < 3.0, result


def test_publish_against_a_black_holed_rabbitmq_gives_up_within_seconds(tmp_path, black_hole):
    result = _probe(tmp_path, f"amqp://guest:guest@127.0.0.1:{black_hole}//", "")
    assert result["publish"]["failed"] and result["publish"]["seconds"] < 4.5, result
