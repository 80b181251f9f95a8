from __future__ import annotations

import pytest

from tests.generation.conftest import GPU_QUEUE, gpu_worker, tiny_model_dir, wait_for_status  # noqa: F401


def queued_messages(queue: str = GPU_QUEUE) -> int:
    """Messages waiting on a broker queue, whichever broker the run uses."""
    from tester_platform.celery import app

    with app.connection_for_write() as conn:
        # `_size` is what both virtual transports (filesystem, Redis) count a queue with;
        # a passive declare would miss a queue that was published to but never declared.
        return conn.default_channel._size(queue)


def purge(queue: str = GPU_QUEUE) -> None:
    from tester_platform.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


@pytest.fixture
def empty_gpu_queue():
    purge()
    yield
    purge()
