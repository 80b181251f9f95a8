"""`make demo`'s supervision (bin/supervise.py under honcho): a process that dies is
announced and restarted; one that keeps dying stops the demo with its name and last lines;
Ctrl-C (SIGTERM from honcho) stops everything without a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUPERVISE = [sys.executable, str(ROOT / "bin" / "supervise.py")]


def _env(**extra) -> dict:
    return dict(os.environ, PYTHONUNBUFFERED="1", **extra)


def test_a_process_that_dies_is_announced_and_restarted_then_given_up_on(tmp_path):
    counter = tmp_path / "starts"
    script = (
        f"import pathlib; p = pathlib.Path({str(counter)!r}); p.write_text(p.read_text() + 'x' "
        "if p.exists() else 'x'); print('doing my work'); print('about to fail: disk on fire'); raise SystemExit(3)"
    )
    out = subprocess.run(
        [*SUPERVISE, "flaky", "--", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=_env(ATELIER_SUPERVISE_MAX_RESTARTS="2", ATELIER_SUPERVISE_WINDOW="60"),
        timeout=60,
    )
    assert out.returncode == 3
    assert counter.read_text() == "xxx"  # first run + 2 restarts
    assert out.stdout.count("[supervise flaky] *** flaky exited unexpectedly (exit status 3)") == 3
    assert "restarting it in 1 s" in out.stdout and "restarting it in 2 s" in out.stdout
    assert "giving up, the demo stops" in out.stdout
    assert "[supervise flaky]   | about to fail: disk on fire" in out.stdout


def test_sigterm_stops_the_process_without_a_restart(tmp_path):
    started = tmp_path / "started"
    script = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); print('up', flush=True); time.sleep(600)"
    proc = subprocess.Popen(
        [*SUPERVISE, "sleeper", "--", sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGTERM)  # what honcho does
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0
    assert "up" in out and "exited unexpectedly" not in out


def test_under_honcho_a_process_that_keeps_dying_stops_the_demo_with_a_clear_message(tmp_path):
    (tmp_path / "Procfile").write_text(
        f"steady: {' '.join(SUPERVISE)} steady -- {sys.executable} -c 'import time; time.sleep(600)'\n"
        f"broken: {' '.join(SUPERVISE)} broken -- {sys.executable} -c "
        "'print(\"Unrecoverable error: something\"); raise SystemExit(1)'\n"
    )
    honcho = Path(sys.executable).with_name("honcho")
    out = subprocess.run(
        [str(honcho), "-f", str(tmp_path / "Procfile"), "start"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_env(ATELIER_SUPERVISE_MAX_RESTARTS="1", ATELIER_SUPERVISE_WINDOW="60"),
        timeout=60,
    )
    assert out.returncode != 0
    assert "*** broken exited unexpectedly (exit status 1)" in out.stdout
    assert "giving up, the demo stops" in out.stdout and "| Unrecoverable error: something" in out.stdout
    assert "sending SIGTERM to steady" in out.stdout and "steady.1 stopped" in out.stdout


def test_every_demo_process_runs_under_the_supervisor():
    from honcho.environ import parse_procfile

    processes = parse_procfile((ROOT / "Procfile").read_text()).processes
    assert set(processes) == {"web", "worker", "beat", "stripe"}
    for name, command in processes.items():
        assert command.startswith(f".venv/bin/python bin/supervise.py {name} -- "), name
