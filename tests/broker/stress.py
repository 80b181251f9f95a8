"""The stress harness: producer processes publish while a real Celery worker consumes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class StressResult:
    transport: str
    producers: int
    messages: int
    seconds: float
    delivered: int
    undelivered: int  # never delivered, but still waiting in the queue folder
    lost: int  # never delivered and gone from the queue folder
    duplicated: int
    crashes: int  # 1 if the worker exited or logged "Unrecoverable error"
    producer_failures: int
    quarantined: int
    worker_log: str

    def summary(self) -> str:
        return (
            f"transport={self.transport} producers={self.producers} messages={self.messages} "
            f"seconds={self.seconds:.1f} delivered={self.delivered} undelivered={self.undelivered} lost={self.lost} "
            f"duplicated={self.duplicated} crashes={self.crashes} producer_failures={self.producer_failures} "
            f"quarantined={self.quarantined}"
        )


def stress_env(folder: Path, transport: str) -> dict:
    env = dict(os.environ)
    # Celery lets CELERY_BROKER_URL override an app's own broker: in CI's Redis pass the
    # stress app would silently test Redis instead of the filesystem transport.
    env.pop("CELERY_BROKER_URL", None)
    env.update(
        {
            "ATELIER_STRESS_FOLDER": str(folder),
            "ATELIER_STRESS_TRANSPORT": transport,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def start_worker(folder: Path, transport: str, log_path: Path, *, timeout: float = 60) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 (the child process's log, open while it runs)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.broker.stress_app",
            "worker",
            "-l",
            "INFO",
            "-P",
            "solo",
            "-c",
            "1",
            "-Q",
            "stress",
            "-n",
            f"stress-{os.getpid()}-{time.time_ns()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=stress_env(folder, transport),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + timeout
    while " ready." not in log_path.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"stress worker did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def delivered_counts(folder: Path) -> Counter:
    log = folder / "delivered.log"
    if not log.exists():
        return Counter()
    return Counter(tuple(map(int, line.split())) for line in log.read_text().splitlines() if line.strip())


def run_stress(
    folder: Path,
    *,
    transport: str,
    producers: int,
    per_producer: int,
    pace: float = 0.0,
    stall_timeout: float = 20,
    total_timeout: float = 240,
) -> StressResult:
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder.parent / f"{folder.name}-worker.log"
    worker = start_worker(folder, transport, log_path)
    expected = {(p, s) for p in range(producers) for s in range(per_producer)}
    t0 = time.monotonic()
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.broker.stress_app", "produce", str(p), str(per_producer), str(pace)],
                cwd=ROOT,
                env=stress_env(folder, transport),
            )
            for p in range(producers)
        ]
        last_count, last_change = -1, time.monotonic()
        while True:
            count = sum(delivered_counts(folder).values())
            now = time.monotonic()
            if count != last_count:
                last_count, last_change = count, now
            producing = any(p.poll() is None for p in procs)
            if not producing and count >= len(expected):
                break
            if worker.poll() is not None and not producing:
                break  # the worker died: nothing more will arrive
            if now - last_change > stall_timeout and not producing:
                break  # nothing delivered for a while: the rest is lost
            if now - t0 > total_timeout:
                break
            time.sleep(0.2)
        seconds = time.monotonic() - t0
        producer_failures = 0
        for p in procs:
            try:
                producer_failures += p.wait(30) != 0
            except subprocess.TimeoutExpired:
                p.kill()
                producer_failures += 1
        worker_exited = worker.poll() is not None
    finally:
        stop(worker)
    counts = delivered_counts(folder)
    worker_log = log_path.read_text(errors="replace")
    quarantine = folder / "quarantine"
    waiting = len([n for n in os.listdir(folder / "queue") if n.endswith(".stress.msg")])
    missing = len(expected - set(counts))
    return StressResult(
        transport=transport,
        producers=producers,
        messages=len(expected),
        seconds=seconds,
        delivered=sum(counts.values()),
        undelivered=min(waiting, missing),
        lost=max(0, missing - waiting),
        duplicated=sum(n - 1 for n in counts.values() if n > 1),
        crashes=int(worker_exited or "Unrecoverable error" in worker_log),
        producer_failures=producer_failures,
        quarantined=len(list(quarantine.iterdir())) if quarantine.exists() else 0,
        worker_log=worker_log,
    )


if __name__ == "__main__":
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description="Run the broker stress once and print its figures.")
    ap.add_argument("--transport", default="atelierfs", help="atelierfs (ours) or filesystem (kombu's stock)")
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--per-producer", type=int, default=1000)
    ap.add_argument("--pace", type=float, default=0.0, help="seconds between two messages of one producer")
    args = ap.parse_args()
    result = run_stress(
        Path(tempfile.mkdtemp(prefix="atelier-broker-stress-")) / "broker",
        transport=args.transport,
        producers=args.producers,
        per_producer=args.per_producer,
        pace=args.pace,
    )
    print(result.summary())
    if result.crashes:
        print("\n".join(line for line in result.worker_log.splitlines() if "Error" in line or "error" in line)[-3000:])
