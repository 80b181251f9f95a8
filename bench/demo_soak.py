"""Soak `make demo`: run it for a while with beat's tasks and a loop of generation
submissions, and report whether any process died and how many messages went through.

    .venv/bin/python bench/demo_soak.py [--minutes 15] [--interval 1.0] [--port 8765]
                                        [--stripe-port 8766] [--var-dir DIR] [--keep-limits]

It starts `make demo` itself (migrate, seed, tiny model, then the Procfile under honcho,
each process under bin/supervise.py) with its own var folder (a fresh
var/soak-<time>/ unless --var-dir; SQLite, broker, media, localstripe state), on
--port/--stripe-port so it does not collide with a demo already running. It lifts the
demo program's quotas and rate limits in that folder's database (unless --keep-limits;
the demo's own limits allow 60 generations an hour), signs in as artist@demo.test over
the API and, every --interval seconds, submits a 2-second preview generation. At the end
it waits for the submitted jobs to finish (while they keep finishing), stops the demo
with Ctrl-C as an operator would, and prints:

  * the submissions (accepted, refused, errors) and how the jobs ended;
  * the messages the worker received (its "Task ... received" lines) and the tasks beat
    sent, files quarantined by the broker, messages still waiting in it at the stop;
  * every unexpected exit the supervisor announced, per process, and whether honcho
    stopped anything before it was asked to.

Exit status 0 only when no process exited, every submitted job finished and nothing was
quarantined.
The demo's output is kept in <var-dir>/demo.log. Not run by tests.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
TERMINAL = {"succeeded", "failed", "cancelled"}

LIFT_LIMITS = """
from tester_platform.access.models import AccessPolicy
from tester_platform.programs.models import Program
p = Program.objects.get(slug="demo")
p.daily_compute_seconds = 10_000_000; p.max_concurrent_jobs = 1000; p.save()
AccessPolicy.objects.update_or_create(program=p, defaults=dict(
    requests_per_minute_per_token=100_000, requests_per_minute_per_artist=100_000,
    generations_per_hour_per_artist=100_000, max_concurrent_generations=1000, min_requests_to_flag=1_000_000))
print("limits lifted")
"""


def _shell(env: dict, code: str) -> str:
    out = subprocess.run(
        [str(PY), "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if out.returncode != 0:
        raise SystemExit(f"manage.py shell failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


def _request(
    base: str, path: str, *, token: str | None = None, body: dict | None = None, timeout: float = 30
) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        base + path,
        data=data,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}


def _job_statuses(base: str, token: str, ids: list[int]) -> dict:
    """How the submitted jobs stand, read through the API (newest first, 25 a page)."""
    wanted, found, page = set(ids), {}, 1
    while wanted - found.keys():
        status, body = _request(base, f"/api/v1/generations/?page={page}", token=token)
        if status != 200:
            break
        for job in body.get("results", []):
            if job["id"] in wanted:
                found[job["id"]] = job["status"]
        if not body.get("next"):
            break
        page += 1
    return dict(
        collections.Counter(found.values()),
        **({"not listed": len(wanted - found.keys())} if wanted - found.keys() else {}),
    )


def _wait_healthy(base: str, demo: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            raise SystemExit(f"make demo exited early ({demo.returncode}):\n{log_path.read_text()[-4000:]}")
        try:
            if _request(base, "/healthz", timeout=5)[0] == 200:
                return
        except (OSError, ValueError):
            pass
        time.sleep(1)
    raise SystemExit(f"the demo did not become healthy in {timeout:.0f} s:\n{log_path.read_text()[-4000:]}")


def _stop(demo: subprocess.Popen, log_path: Path) -> None:
    """Ctrl-C, as an operator would; then make sure nothing the demo started is left."""
    if demo.poll() is None:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
    # honcho starts each Procfile process in its own session: kill any group left over
    for pid in re.findall(r"started \(pid=(\d+)\)", log_path.read_text(errors="replace")):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pid), signal.SIGKILL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=15)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between two submissions")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--stripe-port", type=int, default=8766)
    ap.add_argument("--var-dir", type=Path, default=None)
    ap.add_argument("--keep-limits", action="store_true", help="keep the demo program's quotas and rate limits")
    ap.add_argument(
        "--drain-timeout",
        type=float,
        default=900,
        help="longest wait for the submitted jobs once submissions stop (it also stops "
        "after 60 s without a job finishing)",
    )
    args = ap.parse_args()

    var_dir = (args.var_dir or ROOT / "var" / f"soak-{datetime.now():%Y%m%d-%H%M%S}").resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    log_path = var_dir / "demo.log"
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "ATELIER_BROKER_FOLDER")
    }
    env.update(
        ATELIER_VAR_DIR=str(var_dir),
        STRIPE_PORT=str(args.stripe_port),
        PYTHONUNBUFFERED="1",
        SITE_URL=f"http://127.0.0.1:{args.port}",
        HF_HUB_OFFLINE="1",
    )
    base = f"http://127.0.0.1:{args.port}"
    print(f"soak: var {var_dir}, {base}, {args.minutes:g} min, a submission every {args.interval:g} s")

    log = open(log_path, "w")  # noqa: SIM115 (the child process's log, open while it runs)
    demo = subprocess.Popen(
        ["make", "demo", f"PORT={args.port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ids: list[int] = []
    submissions = collections.Counter()
    statuses: dict = {}
    stopped_early = None
    t_start = None
    try:
        _wait_healthy(base, demo, log_path, timeout=600)
        if not args.keep_limits:
            print(f"soak: {_shell(env, LIFT_LIMITS)}")
        status, body = _request(
            base,
            "/api/v1/auth/token/",
            body={"email": "artist@demo.test", "password": env.get("DEMO_PASSWORD", "atelier-demo"), "name": "soak"},
        )
        if status != 201:
            raise SystemExit(f"sign-in failed: {status} {body}")
        token = body["token"]
        status, programs = _request(base, "/api/v1/programs/", token=token)
        program = next(p["id"] for p in programs["results"] if p.get("slug") == "demo")

        t_start = time.monotonic()
        end = t_start + args.minutes * 60
        next_at, n, last_report = t_start, 0, t_start
        while time.monotonic() < end:
            if demo.poll() is not None:
                stopped_early = f"make demo exited by itself ({demo.returncode})"
                break
            n += 1
            try:
                status, body = _request(
                    base,
                    "/api/v1/generations/",
                    token=token,
                    body={
                        "program": program,
                        "mode": "text_to_video",
                        "prompt": f"soak {n}: a lighthouse at dusk",
                        "duration_seconds": 2,
                        "aspect_ratio": "16:9",
                        "resolution": "preview",
                        "seed": n,
                    },
                )
            except OSError as exc:
                submissions[f"error {type(exc).__name__}"] += 1
            else:
                if status == 201:
                    ids.append(body["id"])
                    submissions["accepted"] += 1
                else:
                    submissions[f"refused {status} {body.get('code', '')}".strip()] += 1
            if time.monotonic() - last_report > 60:
                last_report = time.monotonic()
                print(f"soak: {(last_report - t_start) / 60:4.1f} min, {dict(submissions)}", flush=True)
            next_at += args.interval
            time.sleep(max(0.0, next_at - time.monotonic()))

        # let the worker finish what was submitted, as long as it makes progress
        deadline = time.monotonic() + args.drain_timeout
        done_before, progress_at = -1, time.monotonic()
        while ids and demo.poll() is None:
            try:
                statuses = _job_statuses(base, token, ids)
            except (OSError, ValueError) as exc:
                stopped_early = f"could not read the jobs back: {type(exc).__name__}: {exc}"
                break
            done = sum(statuses.get(s, 0) for s in TERMINAL)
            if done > done_before:
                done_before, progress_at = done, time.monotonic()
            if done == len(ids) or time.monotonic() > deadline or time.monotonic() - progress_at > 60:
                break
            time.sleep(5)
        if stopped_early is None and demo.poll() is not None:
            stopped_early = f"make demo exited by itself ({demo.returncode})"
    finally:
        soak_seconds = time.monotonic() - t_start if t_start else 0.0
        _stop(demo, log_path)
        log.close()

    text = log_path.read_text(errors="replace")
    if t_start is None:
        print(text[-4000:])
        return 1
    before_stop = text.split("SIGINT received")[0]
    lines = before_stop.splitlines()
    received = sum(1 for line in lines if re.search(r"\bworker\.\d+\s+\|.*\] received$", line))
    beat_sent = sum(1 for line in lines if "Scheduler: Sending due task" in line)
    exits = collections.Counter(
        m.group(1) for m in re.finditer(r"\[supervise (\w+)\] \*\*\* \1 exited unexpectedly", before_stop)
    )
    honcho_stops = re.findall(r"system\s+\| (\S+) stopped \(rc=", before_stop)
    unrecoverable = before_stop.count("Unrecoverable error")
    quarantine = var_dir / "broker" / "quarantine"
    quarantined = len(os.listdir(quarantine)) if quarantine.exists() else 0
    queue_dir = var_dir / "broker" / "queue"
    waiting = collections.Counter(
        n.partition(".")[2].removesuffix(".msg")
        for n in (os.listdir(queue_dir) if queue_dir.exists() else [])
        if n.endswith(".msg")
    )
    unfinished = len(ids) - sum(statuses.get(s, 0) for s in TERMINAL)

    print(f"soak: ran {soak_seconds / 60:.1f} min ({args.minutes:g} min of submissions + drain)")
    print(f"  submissions        : {dict(submissions)}")
    print(f"  jobs ended         : {statuses}  unfinished: {unfinished}")
    print(f"  worker received    : {received} messages (tasks)   beat sent: {beat_sent} tasks")
    print(
        f"  broker quarantined : {quarantined} files   left waiting in the broker at the stop: "
        f"{dict(waiting) or 'nothing'}"
    )
    print(f"  unexpected exits   : {dict(exits) or 'none'}   'Unrecoverable error' lines: {unrecoverable}")
    print(f"  honcho stopped     : {honcho_stops or 'nothing'} before Ctrl-C")
    if stopped_early:
        print(f"  !! {stopped_early}")
    print(f"  log                : {log_path}")
    ok = (
        not exits
        and not honcho_stops
        and not unrecoverable
        and not stopped_early
        and unfinished == 0
        and quarantined == 0
        and submissions["accepted"] > 0
    )
    print("soak: OK" if ok else "soak: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
