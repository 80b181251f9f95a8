"""A real worker process consumes a task over the configured broker (embedded filesystem
broker by default, Redis in CI) — not eager mode."""

import re

import pytest

from tester_platform.programs.models import Invitation
from tester_platform.programs.services import invitation_create
from tests.factories import ProgramFactory
from tests.worker import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_process_sends_the_invitation_email(celery_worker, monkeypatch):
    from pathlib import Path

    from django.conf import settings as conf

    from tester_platform.celery import app
    from tester_platform.programs import tasks

    assert app.conf.task_always_eager is False
    # Were the task to run in this process (eagerly, or by anything but the worker), this
    # stand-in would run instead of the real body and no email would be written.
    ran_here = []
    monkeypatch.setattr(tasks.send_invitation_email, "run", lambda *args, **kwargs: ran_here.append(args))
    program = ProgramFactory()
    mail_dir = Path(conf.EMAIL_FILE_PATH)
    before = set(mail_dir.glob("*.log")) if mail_dir.exists() else set()
    # The worker is shared by the session's tests: read only what it logs from here on.
    log_start = len(celery_worker.log())
    invitation, token = invitation_create(program=program, email="far@example.test")
    sent = wait_until(
        lambda: [p for p in mail_dir.glob("*.log") if p not in before and "far@example.test" in p.read_text()],
        timeout=60,
        message="the invitation email",
    )
    assert ran_here == []
    body = sent[0].read_text()
    assert f"/invite/{token}/" in body
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is None
    # The worker received one message for the task and ran it to success.
    succeeded = wait_until(
        lambda: re.findall(r"send_invitation_email\[([0-9a-f-]+)\] succeeded", celery_worker.log()[log_start:]),
        timeout=30,
        message="the task's success in the worker's log",
    )
    received = re.findall(r"send_invitation_email\[([0-9a-f-]+)\] received", celery_worker.log()[log_start:])
    assert len(received) == 1 and succeeded == received
