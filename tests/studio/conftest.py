from __future__ import annotations

import pytest

from tests.generation.conftest import GPU_QUEUE, gpu_worker, tiny_model_dir, wait_for_status  # noqa: F401


def queued_messages(queue: str = GPU_QUEUE) -> int:
    """Messages waiting on a broker queue, whichever broker the run uses."""
    from tester_platform.celery import app

    with app.connection_for_write() as conn:
        try:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
        except Exception:  # the queue does not exist yet: nothing was ever sent to it
            return 0


def purge(queue: str = GPU_QUEUE) -> None:
    from tester_platform.celery import app

    with app.connection_for_write() as conn:
        try:
            conn.default_channel.queue_purge(queue)
        except Exception:
            pass


@pytest.fixture
def empty_gpu_queue():
    purge()
    yield
    purge()
