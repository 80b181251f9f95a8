"""A bare Celery app for the broker tests: one task that records each delivery.

No Django and no project settings: the broker tests test the transport itself, so they
run the same whichever broker the rest of the suite uses (Redis in CI). Configured from
the environment, so a worker process and producer processes agree:

    ATELIER_STRESS_FOLDER     the broker folder (queue/, staging/, processed/, ...)
    ATELIER_STRESS_TRANSPORT  "atelierfs" (ours, the default) or "filesystem" (kombu's stock)

    python -m tests.broker.stress_app produce PRODUCER COUNT [PACE]
        publish COUNT messages, PACE seconds apart (default 0)
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from celery import Celery
from celery.signals import after_setup_logger

from tester_platform import broker

FOLDER = Path(os.environ.get("ATELIER_STRESS_FOLDER", "var/broker-stress"))
TRANSPORT = os.environ.get("ATELIER_STRESS_TRANSPORT", broker.SCHEME)
QUEUE = "stress"

app = Celery("stress", broker=f"{TRANSPORT}://", fixups=[])  # no Django
app.conf.update(
    broker_transport_options=broker.transport_options(FOLDER, polling_interval=0.05),
    task_default_queue=QUEUE,
    task_ignore_result=True,
    result_backend=None,
    task_serializer="json",
    accept_content=["json"],
    # as the product's workers: one message at a time, acknowledged when done
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@after_setup_logger.connect
def _quiet_per_task_lines(**kwargs):
    # thousands of "received"/"succeeded" lines would cost more than the tasks
    for name in ("celery.app.trace", "celery.worker.strategy"):
        logging.getLogger(name).setLevel(logging.WARNING)


@app.task(name="stress.record")
def record(producer: int, seq: int) -> None:
    with open(FOLDER / "delivered.log", "a") as f:  # one short O_APPEND write per delivery
        f.write(f"{producer} {seq}\n")


def produce(producer: int, count: int, pace: float = 0.0) -> None:
    import time

    with app.producer_or_acquire() as producer_obj:
        for seq in range(count):
            record.apply_async((producer, seq), producer=producer_obj)
            if pace:
                time.sleep(pace)


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[1] != "produce":
        sys.exit(__doc__)
    produce(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) == 5 else 0.0)
