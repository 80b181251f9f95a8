"""Runs resume themselves: any exception interrupts a run with its error, and the beat task
resumes interrupted runs and runs without progress through the same idempotent path;
finance sees each attempt. The last test kills a real worker mid-run (SIGKILL) and lets a
real beat process and a fresh worker finish it: nobody paid twice, nobody skipped."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from payments import gateway
from payments.models import LedgerEntry, Payout, PayoutRun
from tester_platform.audit.models import AuditEvent
from tester_platform.finance.schedule import beat_schedule
from tester_platform.finance.services import payout_runs_resume
from tests import worker as worker_module
from tests.finance.helpers import make_owed, prepare_and_approve
from tests.payments.stripe_server import CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET
from tests.worker import ROOT, WorkerProcess, wait_until

pytestmark = pytest.mark.django_db


def _stripe_artists(server, program, n: int, amount_minor: int = 1000):
    """`n` artists with enabled accounts at the local Stripe, each owed `amount_minor`."""
    from payments.models import ConnectedAccount
    from tests.factories import enroll, make_artist, sign

    people = []
    for i in range(n):
        person = make_artist(email=f"resume-{i}@example.test")
        enroll(person, program)
        sign(person, program)
        data = gateway.account_create(
            email=person.email,
            country="DE",
            artist_ref=str(person.public_id),
            idempotency_key=f"resume-{person.public_id}",
        )
        url = gateway.account_link_create(
            account_id=data["id"], refresh_url="http://127.0.0.1/r", return_url="http://127.0.0.1/back"
        )
        requests.get(url, allow_redirects=False, timeout=10)
        ConnectedAccount.objects.create(
            artist=person, stripe_account_id=data["id"], details_submitted=True, payouts_enabled=True
        )
        make_owed(person, program, amount_minor)
        people.append(person)
    return people


def test_any_exception_interrupts_the_run_and_the_beat_task_resumes_it(stripe_server, program, monkeypatch):
    _stripe_artists(stripe_server, program, 3)
    run = prepare_and_approve(program=program)
    calls = {"n": 0}
    real = gateway.transfer_create

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionResetError("the database connection was lost")  # not a gateway error
        return real(**kwargs)

    monkeypatch.setattr(gateway, "transfer_create", flaky)
    from tester_platform.finance.tasks import payout_run_execute_task

    with pytest.raises(ConnectionResetError):
        payout_run_execute_task(run.pk)
    run.refresh_from_db()
    assert run.status == "interrupted" and "ConnectionResetError: the database connection was lost" in run.last_error
    assert AuditEvent.objects.filter(action="payout_run.interrupted", target_id=str(run.pk)).exists()

    assert payout_runs_resume() == {run.pk: "done"}  # the beat task's body: nobody clicked
    run.refresh_from_db()
    assert run.status == "done" and run.last_error == ""
    assert [(a.trigger, a.outcome, a.recorded) for a in run.attempts.all()] == [
        ("approval", "interrupted", 1),
        ("resume", "finished", 2),
    ]
    assert len(stripe_server.transfers()) == 3
    assert LedgerEntry.objects.filter(kind="payout").count() == 3
    assert payout_runs_resume() == {}


def test_only_interrupted_and_stalled_runs_are_resumed(program, artist, other_artist, settings):
    from payments.payouts import payout_runs_to_resume

    make_owed(artist, program)
    stalled = prepare_and_approve(program=program)
    PayoutRun.objects.filter(pk=stalled.pk).update(
        status="running", last_progress_at=timezone.now() - dt.timedelta(minutes=11)
    )
    make_owed(other_artist, program)
    busy = prepare_and_approve(program=program)
    PayoutRun.objects.filter(pk=busy.pk).update(status="running", last_progress_at=timezone.now())
    assert payout_runs_to_resume(stall_seconds=600) == [stalled.pk]
    assert set(payout_runs_to_resume(stall_seconds=600, now=timezone.now() + dt.timedelta(minutes=11))) == {
        stalled.pk,
        busy.pk,
    }
    schedule = beat_schedule(resume_every=60)["finance-payout-runs-resume"]
    assert schedule["task"] == "finance.payout_runs_resume" and schedule["schedule"] == 60
    assert settings.CELERY_BEAT_SCHEDULE["finance-payout-runs-resume"]["task"] == "finance.payout_runs_resume"


def test_finance_sees_each_attempt(client, finance_user, program, artist, stripe_server):
    make_owed(artist, program)
    run = prepare_and_approve(program=program)
    from payments.models import PayoutRunAttempt

    PayoutRunAttempt.objects.create(
        run=run, trigger="approval", outcome="interrupted", recorded=0, error="OperationalError: database is locked"
    )
    PayoutRun.objects.filter(pk=run.pk).update(status="interrupted", last_error="OperationalError: database is locked")
    client.force_login(finance_user)
    page = client.get(f"/finance/runs/{run.pk}/").content.decode()
    assert "database is locked" in page and 'id="run-execute"' in page and "resumes by itself" in page


class BeatProcess:
    """`celery beat`, as the demo runs it, with its own schedule file."""

    def __init__(self, *, extra_env: dict, log_dir: Path):
        self.log_path = log_dir / f"beat-{time.time_ns()}.log"
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.settings",
                "DATABASE_URL": worker_module.test_database_url(),
                "PYTHONUNBUFFERED": "1",
                **extra_env,
            }
        )
        self._log = open(self.log_path, "w")  # noqa: SIM115 (the child process's log, open while it runs)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tester_platform",
                "beat",
                "-l",
                "INFO",
                "-s",
                str(log_dir / f"beat-schedule-{time.time_ns()}"),
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_is_killed_mid_way_is_finished_by_the_periodic_resume(stripe_server, program):
    """SIGKILL the worker sending a run; a real beat process sends finance.payout_runs_resume
    every second, and once the run has made no progress for 3 s a fresh worker finishes it.
    Nobody is paid twice (one transfer per payout at Stripe, one ledger entry per line) and
    nobody is skipped."""
    from tester_platform.accounts.roles import FINANCE
    from tester_platform.finance.services import payout_run_approve, payout_run_prepare
    from tests.factories import UserFactory

    people = _stripe_artists(stripe_server, program, 24)
    stripe_server.configure(transfer_latency_ms=150)  # a slow Stripe: the run takes a few seconds
    env = {
        "STRIPE_API_BASE": stripe_server.url,
        "STRIPE_SECRET_KEY": "sk_test_atelier_local",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_WEBHOOK_SECRET,
        "PAYOUT_RUN_STALL_SECONDS": "3",
        "PAYOUT_RESUME_EVERY_SECONDS": "1",
    }
    log_dir = Path(os.environ["ATELIER_TEST_RUN_DIR"])
    doomed = WorkerProcess(queues="celery", name="payouts-doomed", extra_env=env).wait_ready(timeout=90)
    beat = replacement = None
    try:
        preparer = UserFactory(email="prep@example.test", roles=[FINANCE])
        approver = UserFactory(email="appr@example.test", roles=[FINANCE])
        run = payout_run_prepare(actor=preparer, period_end=timezone.localdate(), program=program)
        payout_run_approve(actor=approver, run=run)  # enqueued on commit, to the doomed worker
        wait_until(
            lambda: Payout.objects.filter(run=run, status="sent").count() >= 5,
            timeout=60,
            message="the first transfers",
        )
        doomed.kill()
        killed_with = Payout.objects.filter(run=run, status="sent").count()
        assert 5 <= killed_with < len(people)
        run.refresh_from_db()
        assert run.status == "running"  # the dead worker could not say anything

        replacement = WorkerProcess(queues="celery", name="payouts-replacement", extra_env=env).wait_ready(timeout=90)
        beat = BeatProcess(extra_env=env, log_dir=log_dir)
        wait_until(
            lambda: PayoutRun.objects.get(pk=run.pk).status == "done",
            timeout=90,
            interval=0.25,
            message="the periodic resume to finish the run",
        )
    finally:
        doomed.stop()
        for process in (beat, replacement):
            if process is not None:
                process.stop()

    run.refresh_from_db()
    payouts = list(run.payouts.all())
    assert len(payouts) == len(people) and {p.status for p in payouts} == {"sent"}
    transfers = stripe_server.transfers()
    assert len(transfers) == len(people)
    assert sorted(t["transfer_group"] for t in transfers) == sorted(p.transfer_group for p in payouts)
    assert LedgerEntry.objects.filter(kind="payout").count() == len(people)
    assert all(sum(LedgerEntry.objects.filter(artist=p).values_list("amount_minor", flat=True)) == 0 for p in people)
    attempts = [(a.trigger, a.outcome) for a in run.attempts.all()]
    assert attempts[0] == ("approval", "interrupted") and attempts[-1] == ("resume", "finished")
    assert AuditEvent.objects.filter(
        action="payout_run.executed", target_id=str(run.pk), data__trigger="resume"
    ).exists()
