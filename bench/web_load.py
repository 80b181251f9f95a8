"""Web load: gunicorn + PostgreSQL with the scale data (seed_scale), the pages people use
most, beside a bare Django view in the same run. Loopback only, bounded.

    .venv/bin/python bench/web_load.py [--requests 600] [--rounds 3] [--concurrency 2] [--workers 2]
        [--seed-artists 10000 --seed-jobs 1000000]

Uses DATABASE_URL if set (it must already hold the seed_scale data), otherwise creates a
PostgreSQL database on 127.0.0.1, seeds it (minutes) and drops it afterwards. The cache is
Redis, as in production: CACHE_URL if set, otherwise redis://127.0.0.1:6379/3, flushed
afterwards. Two passes, each with its own gunicorn and the bare view measured in it:
  - "page cache on": the product as deployed. Nothing writes during the run, so after the
    warm-up every page visit is a cache hit (tester_platform/pagecache.py);
  - "page cache off" (PAGE_CACHE_SECONDS=0): every visit renders: the cost of a first visit,
    or of a visit right after the artist's data changed.
Prints p50 / p95 latency and requests a second per page, and each page's throughput as a
ratio of the bare view's. Not run by tests.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hammer(port: int, path: str, cookies: list[str], total: int, concurrency: int) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    per_client = max(1, total // concurrency)

    def client(i: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        cookie = cookies[i % len(cookies)] if cookies else ""
        for _ in range(per_client):
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                if response.status != 200:
                    errors[0] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started, errors[0]


def measure(args, env: dict, pages: list) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "tester_platform.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start") from exc
                time.sleep(0.2)
        for _, path, cookies in pages:  # warm up every process and cache
            hammer(port, path, cookies, args.concurrency * 2 * args.workers, args.concurrency)
        # Interleaved rounds: a burst of noise from elsewhere on the machine lands on every
        # page (and the bare view) alike instead of on whichever page ran at that moment.
        totals = {name: ([], 0.0, 0) for name, _, _ in pages}
        for _ in range(args.rounds):
            for name, path, cookies in pages:
                latencies, elapsed, errors = hammer(port, path, cookies, args.requests // args.rounds, args.concurrency)
                seen, spent, failed = totals[name]
                totals[name] = (seen + latencies, spent + elapsed, failed + errors)
        print(f"{'page':22} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'vs bare':>8} errors")
        bare_rps = None
        for name, _, _ in pages:
            latencies, elapsed, errors = totals[name]
            latencies.sort()
            p50 = statistics.median(latencies) * 1000
            p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
            rps = len(latencies) / elapsed
            bare_rps = bare_rps or rps
            print(f"{name:22} {p50:8.1f} {p95:8.1f} {rps:8.1f} {rps / bare_rps:8.2f} {errors}")
    finally:
        server.terminate()
        server.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds over all pages")
    ap.add_argument("--seed-artists", type=int, default=10_000)
    ap.add_argument("--seed-jobs", type=int, default=1_000_000)
    args = ap.parse_args()

    run_dir = Path(tempfile.mkdtemp(prefix="atelier-web-"))
    env = dict(os.environ)
    created_db = None
    if "DATABASE_URL" not in env:
        created_db = f"atelier_web_{os.getpid()}"
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {created_db}"], check=True
        )
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{created_db}"
    own_cache = "CACHE_URL" not in env
    env.setdefault("CACHE_URL", "redis://127.0.0.1:6379/3")
    env.update(
        {
            "ATELIER_VAR_DIR": str(run_dir),
            "DJANGO_SETTINGS_MODULE": "bench.settings_bench",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DB_CONN_MAX_AGE": "60",
        }
    )
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connections

    from tester_platform.accounts.models import User

    try:
        if created_db:
            call_command("migrate", verbosity=0)
            t0 = time.monotonic()
            call_command("seed_scale", artists=args.seed_artists, jobs=args.seed_jobs)
            print(f"seed_scale: {args.seed_artists} artists, {args.seed_jobs} jobs in {time.monotonic() - t0:.0f} s")

        def session_for(user) -> str:
            store = SessionStore()
            store["_auth_user_id"] = str(user.pk)
            store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
            store["_auth_user_hash"] = user.get_session_auth_hash()
            store.create()
            return f"sessionid={store.session_key}"

        artists = list(User.objects.filter(email__contains="-artist").order_by("?")[: args.concurrency])
        moderator = User.objects.filter(email__contains="-moderator").first()
        artist_cookies = [session_for(a) for a in artists]
        moderator_cookies = [session_for(moderator)]
        connections.close_all()

        pages = [
            ("bare Django view", "/__bare__/", artist_cookies),
            ("artist dashboard", "/", artist_cookies),
            ("generation history", "/studio/", artist_cookies),
            ("moderation queue", "/dashboard/sharing/", moderator_cookies),
            ("earnings page", "/labour/earnings/", artist_cookies),
        ]
        print(
            f"{args.requests} requests per page in {args.rounds} interleaved rounds, "
            f"{args.concurrency} concurrent clients, "
            f"gunicorn with {args.workers} workers, PostgreSQL, Redis cache"
        )
        for label, page_cache_seconds in (
            ("page cache on", env.get("PAGE_CACHE_SECONDS", "60")),
            ("page cache off", "0"),
        ):
            print(f"\n{label} (PAGE_CACHE_SECONDS={page_cache_seconds})")
            measure(args, dict(env, PAGE_CACHE_SECONDS=page_cache_seconds), pages)
    finally:
        connections.close_all()
        if own_cache:
            from django.core.cache import caches

            for store in caches.all():
                store.clear()
        if created_db:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE {created_db}"])


if __name__ == "__main__":
    main()
