"""Keep one process of `make demo` running, and say so out loud when it dies.

    .venv/bin/python bin/supervise.py NAME -- COMMAND [ARG...]

Runs COMMAND and relays its output line by line (honcho prefixes it as usual). If the
process exits while nobody asked it to stop, a banner names it, its exit status and its
last log lines, and it is started again after a short pause (1 s, doubling to 30 s). A
process that keeps dying — more than ATELIER_SUPERVISE_MAX_RESTARTS restarts (default 5)
within ATELIER_SUPERVISE_WINDOW seconds (default 300) — is given up on: the banner says
so and the supervisor exits with the process's status, upon which honcho stops the whole
demo rather than leave it half running.

SIGTERM or SIGINT (honcho's Ctrl-C) stops the process and the supervisor, without a
restart. The process stays in the supervisor's process group, so honcho's kill of the
group reaches it even when the supervisor itself is killed.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import time

LAST_LINES = 25


def _say(name: str, text: str) -> None:
    sys.stdout.write("".join(f"[supervise {name}] {line}\n" for line in text.splitlines()))
    sys.stdout.flush()


def _status(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


class Supervisor:
    def __init__(self, name: str, command: list[str], *, max_restarts: int, window: float):
        self.name, self.command = name, command
        self.max_restarts, self.window = max_restarts, window
        self.stopping = False
        self.child: subprocess.Popen | None = None

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            with contextlib.suppress(
                ProcessLookupError
            ):  # TERM is idempotent for every demo process (celery: warm shutdown)
                self.child.send_signal(signal.SIGTERM)

    def _run_once(self) -> tuple[int, float, list[str]]:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        started = time.monotonic()
        self.child = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        if self.stopping:  # asked to stop while it was being started
            self.child.send_signal(signal.SIGTERM)
        last = collections.deque(maxlen=LAST_LINES)
        assert self.child.stdout is not None
        for raw in iter(self.child.stdout.readline, b""):
            sys.stdout.buffer.write(raw)
            sys.stdout.flush()
            last.append(raw.decode(errors="replace").rstrip("\n"))
        self.child.stdout.close()
        return self.child.wait(), time.monotonic() - started, list(last)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        restarts: list[float] = []
        delay = 1.0
        while True:
            rc, lived, last = self._run_once()
            if self.stopping:
                return rc if rc >= 0 else 0
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < self.window]
            lines = "\n".join(f"  | {line}" for line in last) or "  | (no output)"
            if len(restarts) >= self.max_restarts:
                _say(
                    self.name,
                    f"*** {self.name} exited unexpectedly ({_status(rc)}) after {lived:.0f} s, "
                    f"{len(restarts) + 1} exits within {self.window:.0f} s: giving up, the demo stops.\n"
                    f"*** last lines of {self.name}:\n{lines}",
                )
                return rc if rc > 0 else 1
            if lived > self.window:
                delay = 1.0
            _say(
                self.name,
                f"*** {self.name} exited unexpectedly ({_status(rc)}) after {lived:.0f} s; "
                f"restarting it in {delay:.0f} s (restart {len(restarts) + 1} of at most {self.max_restarts} "
                f"within {self.window:.0f} s).\n*** last lines of {self.name}:\n{lines}",
            )
            restarts.append(now)
            deadline = time.monotonic() + delay
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.stopping:
                return 0
            delay = min(delay * 2, 30.0)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit(__doc__)
    name, command = argv[0], argv[2:]
    return Supervisor(
        name,
        command,
        max_restarts=int(os.environ.get("ATELIER_SUPERVISE_MAX_RESTARTS", "5")),
        window=float(os.environ.get("ATELIER_SUPERVISE_WINDOW", "300")),
    ).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
