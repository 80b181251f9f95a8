"""The demo's wiring, on the real Procfile under honcho: the web server on a free port
(WEB_PORT), the local Stripe on the port derived from it, webhook secrets made for this demo
in its own var/ folder, a real worker and beat. Onboarding finished on the local Stripe's
page WITHOUT coming back through the return URL makes the artist payable through the
Connect webhook alone; an approved run's payout reaches "arrived" through the connected
account's payout.paid. Nothing here is started by the test process but the demo itself."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devtools.demo_secrets import local_stripe_port

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
HONCHO = str(Path(PYTHON).parent / "honcho")

pytestmark = [pytest.mark.worker]

SETUP = """
from tester_platform.accounts.roles import FINANCE, MODERATOR
from tester_platform.finance.services import payout_account_connect
from tester_platform.programs.models import ProgramStaff
from tests.factories import ConsentDocumentFactory, ProgramFactory, UserFactory, add_staff, enroll, make_artist, sign
from tests.labour.helpers import make_rate_card
program = ProgramFactory(slug="wired", name="Wired Program")
ConsentDocumentFactory(program=program)
make_rate_card(program, bounty_high_minor=2500)
artist = make_artist(email="wired@example.test")
enroll(artist, program)
sign(artist, program)
moderator = UserFactory(email="wired-mod@example.test", roles=[MODERATOR])
add_staff(moderator, program, ProgramStaff.Role.MODERATOR)
UserFactory(email="wired-fin1@example.test", roles=[FINANCE])
UserFactory(email="wired-fin2@example.test", roles=[FINANCE])
base = "http://127.0.0.1:%(port)s/payouts/connect/"
_, url = payout_account_connect(artist=artist, refresh_url=base + "refresh/", return_url=base + "return/")
print("ONBOARDING", url)
"""

PAY = """
from django.utils import timezone
from tester_platform.accounts.models import User
from tester_platform.finance.services import payout_run_approve, payout_run_prepare
from tester_platform.programs.models import Program
from tests.finance.helpers import accept_labour
program = Program.objects.get(slug="wired")
artist, moderator = User.objects.get(email="wired@example.test"), User.objects.get(email="wired-mod@example.test")
accept_labour(artist, program, moderator, severity="high")
run = payout_run_prepare(actor=User.objects.get(email="wired-fin1@example.test"), period_end=timezone.localdate(),
                         program=program)
payout_run_approve(actor=User.objects.get(email="wired-fin2@example.test"), run=run)
print("RUN", run.pk)
"""


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports() -> int:
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 420 < 65536 and _free(local_stripe_port(port)):
            return port
    raise RuntimeError("no free pair of ports")


def _env(var_dir: Path, port: int) -> dict:
    # The demo's own settings, as `make demo` runs it: nothing of the test session's.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "ATELIER_",
                "DJANGO_",
                "STRIPE_",
                "DATABASE_URL",
                "CELERY_",
                "CACHE_URL",
                "SITE_URL",
                "PAYOUT_",
                "LOCALSTRIPE_",
            )
        )
    }
    env.update(
        ATELIER_VAR_DIR=str(var_dir),
        PORT=str(port),
        WEB_PORT=str(port),
        PYTHONUNBUFFERED="1",
        HF_HUB_OFFLINE="1",
        LOCALSTRIPE_PAYOUT_DELAY_MS="300",
        LOCALSTRIPE_ARRIVAL_DELAY_MS="300",
    )
    return env


def _manage(env: dict, *args: str) -> str:
    out = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _query(db: Path, sql: str):
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute(sql).fetchall()


def _wait(predicate, *, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (OSError, sqlite3.Error, requests.RequestException):
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text(errors='replace')[-6000:]}")


def test_the_procfile_demo_delivers_connect_webhooks_and_a_payout_arrives(tmp_path):
    var_dir, port = tmp_path / "var", _ports()
    stripe_port = local_stripe_port(port)
    env = _env(var_dir, port)
    db = var_dir / "db.sqlite3"
    _manage(env, "migrate", "--noinput", "-v", "0")
    log_path = tmp_path / "demo.log"
    log = open(log_path, "w")  # noqa: SIM115 (the child process's log, open while it runs)
    demo = subprocess.Popen(
        [HONCHO, "-f", "Procfile", "start"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait(
            lambda: requests.get(f"http://127.0.0.1:{stripe_port}/_atelier/health", timeout=2).ok,
            timeout=60,
            what="the local Stripe on WEB_PORT + 420",
            log=log_path,
        )
        _wait(
            lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200,
            timeout=90,
            what="the web server on WEB_PORT",
            log=log_path,
        )
        _wait(
            lambda: (
                "demo-worker@" in log_path.read_text(errors="replace")
                and " ready." in log_path.read_text(errors="replace")
            ),
            timeout=120,
            what="the worker",
            log=log_path,
        )
        # The demo's own webhook secrets, made in its var/ folder and shared by both sides.
        secrets = json.loads((var_dir / "stripe-webhook-secrets.json").read_text())
        assert secrets["platform"] != secrets["connect"] and "whsec_atelier_local" not in secrets.values()

        url = re.search(r"ONBOARDING (\S+)", _manage(env, "shell", "-c", SETUP % {"port": port})).group(1)
        assert url.startswith(f"http://127.0.0.1:{stripe_port}/_atelier/onboard/")
        # The artist finishes onboarding on Stripe's page and never comes back to us.
        finished = requests.get(url, allow_redirects=False, timeout=10)
        assert finished.status_code == 302 and "/payouts/connect/return/" in finished.headers["Location"]
        _wait(
            lambda: _query(db, "SELECT payouts_enabled FROM payments_connectedaccount") == [(1,)],
            timeout=30,
            what="account.updated to reach the app",
            log=log_path,
        )
        assert _query(db, "SELECT endpoint, status FROM payments_webhookevent WHERE type = 'account.updated'") == [
            ("connect", "processed")
        ]

        run_id = int(re.search(r"RUN (\d+)", _manage(env, "shell", "-c", PAY)).group(1))
        _wait(
            lambda: _query(db, f"SELECT status FROM payments_payout WHERE run_id = {run_id}") == [("arrived",)],
            timeout=90,
            what="the payout to arrive (payout.paid on the Connect endpoint)",
            log=log_path,
        )
        events = _query(db, "SELECT type, endpoint, status FROM payments_webhookevent ORDER BY id")
        assert ("transfer.created", "platform", "processed") in events
        assert ("payout.paid", "connect", "processed") in events
        assert _query(db, f"SELECT status FROM payments_payoutrun WHERE id = {run_id}") == [("done",)]
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C, as an operator would
            try:
                demo.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait(10)
        log.close()
        for pid in re.findall(r"started \(pid=(\d+)\)", log_path.read_text(errors="replace")):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pid), signal.SIGKILL)  # honcho starts each process in its own session
