"""Payout run at scale on PostgreSQL (not run by `make test`).

    .venv/bin/python bench/payout_scale.py [--artists 10000] [--entries 1000000] [--payouts 2000]

Creates its own database on PostgreSQL (PGHOST/PGPORT/PGUSER, default 127.0.0.1:5432
postgres, trust auth), bulk-loads N artists and M ledger entries, then prints:

1. the time to compute a run's amounts — `unpaid_balances(...)`, the ONE aggregate query
   a run uses (per artist and currency, and per artist, program and currency) — against the
   same aggregate as raw SQL in the same process, and their ratio (target <= 1.5);
2. transfers per second against the local Stripe (its own launcher on a free loopback
   port), each with its idempotency key: the bare gateway, and the whole exactly-once
   path (`payout_run_execute` of an approved run: attempt bookkeeping, transfer, ledger
   entries) (target >= 50/s).

The database is dropped at the end (also on failure)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def admin_connection():
    import psycopg

    return psycopg.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", "postgres"),
        dbname="postgres",
        autocommit=True,
    )


def start_local_stripe():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.localstripe",
            "--port",
            "0",
            "--payout-delay-ms",
            "-1",
            "--balance",
            str(10**12),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = proc.stdout.readline()
    match = re.search(r"ready on (http://127\.0\.0\.1:\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"local Stripe did not start: {line}")
    import threading

    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, match.group(1)


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--artists", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--payouts", type=int, default=2_000, help="payouts sent through the local Stripe")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    dbname = f"atelier_payout_bench_{uuid.uuid4().hex[:8]}"
    with admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    stripe_proc = None
    try:
        host, port = os.environ.get("PGHOST", "127.0.0.1"), os.environ.get("PGPORT", "5432")
        os.environ["DATABASE_URL"] = f"postgres://{os.environ.get('PGUSER', 'postgres')}@{host}:{port}/{dbname}"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tester_platform.settings")
        os.environ["LOG_LEVEL"] = "WARNING"
        stripe_proc, stripe_url = start_local_stripe()
        os.environ["STRIPE_API_BASE"] = stripe_url
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        run_bench(args, stripe_url)
    finally:
        if stripe_proc is not None:
            stripe_proc.terminate()
        from django.db import connections

        with contextlib.suppress(Exception):
            connections.close_all()
        with admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        print(f"dropped database {dbname}")


def run_bench(args, stripe_url: str) -> None:
    import logging

    import requests
    from django.db import connection
    from django.utils import timezone

    logging.getLogger("stripe").setLevel(logging.WARNING)
    from payments import gateway
    from payments.errors import NothingToPay
    from payments.models import ConnectedAccount, LedgerEntry, RateCard
    from payments.payouts import payout_run_approve, payout_run_create, payout_run_execute, period_cutoff
    from payments.selectors import unpaid_balances
    from tester_platform.accounts.models import User
    from tester_platform.programs.models import Program

    # --- load -------------------------------------------------------------------------------
    start = time.perf_counter()
    programs = [Program.objects.create(name=f"Bench {i}", slug=f"bench-{i}", status="active") for i in range(4)]
    for program in programs:
        RateCard.objects.create(
            program=program,
            version=1,
            currency="EUR",
            hourly_rate_minor=2500,
            pay_floor_hourly_minor=1200,
            published_at=timezone.now(),
            minimum_payout_minor=0,
        )
    User.objects.bulk_create(
        [User(email=f"bench{i}@example.test", display_name=f"Bench {i}") for i in range(args.artists)], batch_size=2000
    )
    first_user = User.objects.order_by("pk").values_list("pk", flat=True).first()
    program_ids = [p.pk for p in programs]
    with connection.cursor() as cursor:
        # One statement: M entries spread over N artists, 4 programs and the last 120 days.
        cursor.execute(
            f"""
            INSERT INTO {LedgerEntry._meta.db_table}
              (artist_id, program_id, kind, amount_minor, currency, source_type, source_id, source_label, rate_basis,
               memo, created_at)
            SELECT %s + (i %% %s), (ARRAY{program_ids}::bigint[])[(1 + (i / %s) %% 4)::int], 'time',
                   100 + (i * 7919) %% 4900,
                   'EUR', 'bench.item', i::text, '', '', '', now() - ((i %% 120) || ' days')::interval
            FROM generate_series(0::bigint, %s - 1) AS i""",
            [first_user, args.artists, args.artists, args.entries],
        )
        cursor.execute("ANALYZE")
    print(
        f"loaded {args.artists:,} artists and {LedgerEntry.objects.count():,} ledger entries "
        f"in {time.perf_counter() - start:.1f} s"
    )

    # --- aggregate: ORM vs raw SQL ----------------------------------------------------------
    as_of = period_cutoff(timezone.localdate() - dt.timedelta(days=1))
    table = LedgerEntry._meta.db_table
    # The same aggregate by hand: entries before the cut-off, plus money paid out whenever
    # it was paid (payouts, and reversals of payouts).
    where = (
        f"FROM {table} e LEFT JOIN {table} r ON e.reverses_id = r.id "
        f"WHERE e.created_at < %s OR e.kind = 'payout' OR (e.kind = 'reversal' AND r.kind = 'payout')"
    )
    raw_by_artist = (
        f"SELECT e.artist_id, e.currency, SUM(e.amount_minor) AS unpaid_minor {where} "
        f"GROUP BY e.artist_id, e.currency HAVING SUM(e.amount_minor) > 0 ORDER BY 1, 2"
    )
    raw_by_program = (
        f"SELECT e.artist_id, e.program_id, e.currency, SUM(e.amount_minor) AS unpaid_minor {where} "
        f"GROUP BY e.artist_id, e.program_id, e.currency HAVING SUM(e.amount_minor) > 0 "
        f"ORDER BY 1, 2, 3"
    )

    def raw(sql):
        def run():
            with connection.cursor() as cursor:
                cursor.execute(sql, [as_of])
                columns = [c.name for c in cursor.description]
                return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

        return run

    results = {}
    for label, orm, sql in (
        ("per artist", lambda: unpaid_balances(as_of=as_of), raw_by_artist),
        ("per artist+program (what a run uses)", lambda: unpaid_balances(as_of=as_of, by_program=True), raw_by_program),
    ):
        assert len(orm()) == len(raw(sql)())  # same rows, and warms both paths
        orm_times, raw_times = [], []
        for _ in range(args.repeat):  # interleaved, so caches and load affect both alike
            orm_times += timed(orm, 1)
            raw_times += timed(raw(sql), 1)
        o, r = statistics.median(orm_times), statistics.median(raw_times)
        results[label] = (o, r)
        print(
            f"aggregate {label}: ORM {o * 1000:.0f} ms, raw SQL {r * 1000:.0f} ms, ratio {o / r:.2f} "
            f"(median of {args.repeat}, {len(orm()):,} rows)"
        )
    start = time.perf_counter()
    try:
        payout_run_create(period_end=timezone.localdate() - dt.timedelta(days=1))
        skipped = -1
    except NothingToPay as nothing:  # no accounts yet: nobody payable, so no run is created
        skipped = len(nothing.skipped)
    print(
        f"payout_run_create (prepare) over everyone (no accounts yet → all listed as skipped, no run): "
        f"{time.perf_counter() - start:.2f} s, {skipped:,} skipped"
    )

    # --- transfers per second against the local Stripe --------------------------------------
    session = requests.Session()
    payees = list(User.objects.order_by("pk").values_list("pk", "public_id")[: args.payouts])
    start = time.perf_counter()
    accounts = []
    for pk, public_id in payees:
        data = gateway.account_create(
            email=f"{pk}@example.test",
            country="DE",
            artist_ref=str(public_id),
            idempotency_key=f"bench-account-{public_id}",
        )
        url = gateway.account_link_create(
            account_id=data["id"], refresh_url="http://127.0.0.1/r", return_url="http://127.0.0.1/back"
        )
        session.get(url, allow_redirects=False)
        accounts.append(
            ConnectedAccount(artist_id=pk, stripe_account_id=data["id"], details_submitted=True, payouts_enabled=True)
        )
    ConnectedAccount.objects.bulk_create(accounts)
    print(f"onboarded {len(accounts):,} accounts in {time.perf_counter() - start:.1f} s")

    # bare gateway: one transfer per request, each with its own idempotency key
    n = min(1000, len(accounts))
    start = time.perf_counter()
    for i, account in enumerate(accounts[:n]):
        gateway.transfer_create(
            amount_minor=100,
            currency="EUR",
            destination=account.stripe_account_id,
            transfer_group=f"bench-{i}",
            metadata={"bench": str(i)},
            idempotency_key=f"bench-bare-{uuid.uuid4().hex}",
        )
    bare = n / (time.perf_counter() - start)
    print(f"gateway.transfer_create: {bare:.0f} transfers/s ({n} transfers, idempotency keys)")

    start = time.perf_counter()
    run = payout_run_create(period_end=timezone.localdate() - dt.timedelta(days=1))
    prepared = time.perf_counter() - start
    approver = User.objects.create(email="bench-approver@example.test", display_name="Approver")
    payout_run_approve(run_id=run.pk, approved_by=approver)
    print(f"payout_run_create (prepare) of {run.payout_count:,} payouts: {prepared:.2f} s")
    start = time.perf_counter()
    run = payout_run_execute(run_id=run.pk, trigger="bench")
    elapsed = time.perf_counter() - start
    print(
        f"payout_run_execute: {run.payout_count:,} payouts in {elapsed:.1f} s = {run.payout_count / elapsed:.0f} "
        f"transfers/s end to end (status {run.status}; pending→sent + ledger entries, exactly once)"
    )
    try:
        again = payout_run_create(period_end=timezone.localdate() - dt.timedelta(days=1)).payout_count
    except NothingToPay:
        again = 0
    print(f"a second run for the same period plans {again} payouts")
    o, r = results["per artist+program (what a run uses)"]
    print(
        f"\nSUMMARY: aggregate ORM/raw ratio {o / r:.2f} (target <= 1.5); transfers/s bare {bare:.0f}, "
        f"end to end {run.payout_count / elapsed:.0f} (target >= 50)"
    )


if __name__ == "__main__":
    main()
