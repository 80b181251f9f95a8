"""A real Celery worker process for integration tests (never eager mode).

It imports tests.settings like the test process, so it shares the session's broker
folder (or Redis key space), and it is pointed at the test database through DATABASE_URL:
tests that use it need committed rows (`django_db(transaction=True)`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = quote(s.get("USER") or "")
    password = quote(s.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


class WorkerProcess:
    def __init__(
        self,
        *,
        queues: str = "celery",
        name: str = "testworker",
        extra_env: dict | None = None,
        log_dir: Path | None = None,
        concurrency: int = 1,
        pool: str = "solo",
        hostname: str | None = None,
    ):
        self.queues = queues
        self.name = name  # `hostname` fixes the Celery node name, as operators do (-n gpu0@%h)
        self.log_path = (log_dir or Path(os.environ["ATELIER_TEST_RUN_DIR"])) / f"{name}-{time.time_ns()}.log"
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.settings",
                "DATABASE_URL": test_database_url(),
                "PYTHONUNBUFFERED": "1",
                "HF_HUB_OFFLINE": "1",
            }
        )
        env.update(extra_env or {})
        self._log = open(self.log_path, "w")  # noqa: SIM115 (the child process's log, open while it runs)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tester_platform",
                "worker",
                "-l",
                "INFO",
                "-Q",
                queues,
                "-n",
                hostname or f"{name}-{os.getpid()}-{time.time_ns()}@%h",
                "-P",
                pool,
                "-c",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> WorkerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early ({self.proc.returncode}):\n{self.log()}")
            if " ready." in self.log():
                return self
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready in {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-whatever, as a crashed GPU host would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def wait_until(predicate, *, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
