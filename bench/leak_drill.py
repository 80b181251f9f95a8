"""Leak drill: one artist's token is replayed by 200 clients from 200 loopback addresses
while 20 honest artists keep generating. Prints the honest artists' success rate (target
100%) and the time from the start of the flood to the leaked token's suspension (target
<= 60 s). Loopback only, bounded in count and time.

    .venv/bin/python bench/leak_drill.py [--clients 200] [--honest 20] [--max-seconds 90]

Runs the real stack: gunicorn serving the app, a Celery worker with beat running the
anomaly scan, PostgreSQL + Redis when reachable (DATABASE_URL / CELERY_BROKER_URL),
otherwise SQLite + the filesystem broker. Not run by tests.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, *, token, body=None, source_ip="127.0.0.1", agent="honest-client/1.0"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source_ip, 0))
    headers = {"Authorization": f"Bearer {token}", "User-Agent": agent, "Content-Type": "application/json"}
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        return response.status, payload
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--honest", type=int, default=20)
    ap.add_argument("--max-seconds", type=float, default=90)
    args = ap.parse_args()

    run_dir = Path(tempfile.mkdtemp(prefix="atelier-drill-"))
    env = dict(os.environ)
    use_pg = reachable("127.0.0.1", 5432) and "DATABASE_URL" not in os.environ
    db_name = f"atelier_drill_{os.getpid()}"
    if use_pg:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {db_name}"], check=True)
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{db_name}"
    env.setdefault("DATABASE_URL", f"sqlite:///{run_dir / 'drill.sqlite3'}")
    if reachable("127.0.0.1", 6379):
        env.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
        env.setdefault("CACHE_URL", "redis://127.0.0.1:6379/12")
    env.update(
        {
            "ATELIER_VAR_DIR": str(run_dir),
            "DJANGO_SETTINGS_MODULE": "tester_platform.settings",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
    )
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    cache.clear()
    from tester_platform.api.models import ApiToken
    from tester_platform.api.services import token_create
    from tests.factories import ConsentDocumentFactory, ProgramFactory, enroll, make_artist, sign

    program = ProgramFactory(slug="drill", name="Drill", max_concurrent_jobs=50, daily_compute_seconds=1_000_000)
    ConsentDocumentFactory(program=program)
    victim = make_artist(email="victim@drill.test")
    enroll(victim, program)
    sign(victim, program)
    _, leaked = token_create(user=victim, name="leaked")
    _, victims_spare = token_create(user=victim, name="spare")
    honest_tokens = []
    for n in range(args.honest):
        artist = make_artist(email=f"honest{n}@drill.test")
        enroll(artist, program)
        sign(artist, program)
        honest_tokens.append(token_create(user=artist, name="mine")[1])
    from django.db import connections

    connections.close_all()

    port = free_port()
    logs = open(run_dir / "processes.log", "w")  # noqa: SIM115 (the child process's log, open while it runs)
    processes = [
        subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "tester_platform.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "2",
                "-k",
                "gthread",
                "--threads",
                "16",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "tester_platform",
                "worker",
                "-B",
                "-Q",
                "celery",
                "-P",
                "solo",
                "-l",
                "WARNING",
                "-s",
                str(run_dir / "beat-schedule"),
            ],
            cwd=ROOT,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        deadline = time.monotonic() + 60
        while not reachable("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)
        time.sleep(2)  # let the worker and beat come up

        stop = threading.Event()
        honest_results: list[int] = []
        attack_results: list[int] = []
        suspended_at: list[float] = []
        lock = threading.Lock()
        started = time.monotonic()

        def attacker(i: int):
            ip = f"127.0.{1 + i // 250}.{1 + i % 250}"
            while not stop.is_set():
                try:
                    status, payload = request(
                        port, "GET", "/api/v1/me/", token=leaked, source_ip=ip, agent=f"public-frontend/{i % 9}"
                    )
                except OSError:
                    status, payload = 0, b""
                with lock:
                    attack_results.append(status)
                    if status == 401 and b"suspended" in payload and not suspended_at:
                        suspended_at.append(time.monotonic() - started)
                if status == 401:
                    return
                time.sleep(0.2)

        def honest(token: str, i: int):
            body = {"program": program.pk, "mode": "text_to_video", "prompt": f"honest work {i}", "duration_seconds": 1}
            submitted = False
            while not stop.is_set():
                if not submitted:
                    status, _ = request(port, "POST", "/api/v1/generations/", token=token, body=body)
                    submitted = status == 201
                else:
                    status, _ = request(port, "GET", "/api/v1/generations/", token=token)
                with lock:
                    honest_results.append(status)
                time.sleep(1.0)

        threads = [threading.Thread(target=attacker, args=(i,), daemon=True) for i in range(args.clients)]
        threads += [threading.Thread(target=honest, args=(t, i), daemon=True) for i, t in enumerate(honest_tokens)]
        for t in threads:
            t.start()
        while time.monotonic() - started < args.max_seconds:
            if suspended_at and time.monotonic() - started > suspended_at[0] + 5:
                break  # a few seconds more of honest traffic after the suspension
            time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(15)
        spare_status, _ = request(port, "GET", "/api/v1/me/", token=victims_spare)
        token_state = ApiToken.objects.get(name="leaked").state
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        logs.close()
        if use_pg:
            connections.close_all()
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE {db_name}"])

    ok = sum(1 for s in honest_results if 200 <= s < 300)
    print(f"database: {'PostgreSQL' if use_pg else 'SQLite'}; broker: {env.get('CELERY_BROKER_URL', 'filesystem')}")
    print(
        f"attack: {args.clients} clients from {args.clients} addresses, {len(attack_results)} requests "
        f"({attack_results.count(200)} × 200, {attack_results.count(429)} × 429, {attack_results.count(401)} × 401)"
    )
    print(
        f"honest artists: {args.honest}, {len(honest_results)} requests, success rate "
        f"{100 * ok / max(1, len(honest_results)):.1f}% (target 100%)"
    )
    print(
        f"time to suspension: {suspended_at[0]:.1f} s (target <= 60 s)"
        if suspended_at
        else f"time to suspension: not suspended within {args.max_seconds:.0f} s"
    )
    print(f"leaked token state: {token_state}; the victim's other token answers {spare_status}")


if __name__ == "__main__":
    main()
