"""The product's own worker (tester_platform's Celery app and settings) on the embedded
broker: an empty message file in var/broker/queue/ is quarantined and the next job runs."""

import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tester_platform.programs.services import invitation_create
from tests.factories import ProgramFactory
from tests.worker import wait_until

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.BROKER_EMBEDDED,
        reason="this run's broker is not the embedded one (tests/broker/test_stress.py "
        "tests the transport with a real worker anyway)",
    ),
]


def test_an_empty_message_file_does_not_stop_the_product_worker(celery_worker):
    queue = settings.BROKER_FOLDER / "queue"
    quarantine = settings.BROKER_FOLDER / "quarantine"
    empty = f"{0:015d}_{uuid.uuid4()}.celery.msg"  # sorts before any real message
    (queue / empty).touch()
    wait_until(lambda: (quarantine / empty).exists(), timeout=30, message="the empty file in quarantine")

    mail_dir = Path(settings.EMAIL_FILE_PATH)
    before = set(mail_dir.glob("*.log")) if mail_dir.exists() else set()
    invitation_create(program=ProgramFactory(), email="after-quarantine@example.test")
    wait_until(
        lambda: [
            p for p in mail_dir.glob("*.log") if p not in before and "after-quarantine@example.test" in p.read_text()
        ],
        timeout=60,
        message="the invitation email sent after the quarantine",
    )
    assert celery_worker.proc.poll() is None
    log = celery_worker.log()
    assert empty in log and "quarantined" in log and "Unrecoverable error" not in log
    assert empty not in os.listdir(queue)
