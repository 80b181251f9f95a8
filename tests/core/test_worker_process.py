"""A real worker process consumes a task over the configured broker (embedded filesystem
broker by default, Redis in CI) — not eager mode."""
import pytest

from tester_platform.programs.models import Invitation
from tester_platform.programs.services import invitation_create
from tests.factories import ProgramFactory
from tests.worker import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_process_sends_the_invitation_email(celery_worker, settings):
    from pathlib import Path

    from django.conf import settings as conf

    assert not conf.CELERY_TASK_ALWAYS_EAGER if hasattr(conf, "CELERY_TASK_ALWAYS_EAGER") else True
    program = ProgramFactory()
    mail_dir = Path(conf.EMAIL_FILE_PATH)
    before = set(mail_dir.glob("*.log")) if mail_dir.exists() else set()
    invitation, token = invitation_create(program=program, email="far@example.test")
    sent = wait_until(lambda: [p for p in mail_dir.glob("*.log") if p not in before
                               and "far@example.test" in p.read_text()], timeout=60, message="the invitation email")
    body = sent[0].read_text()
    assert f"/invite/{token}/" in body
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is None
    assert "send_invitation_email" in celery_worker.log()
