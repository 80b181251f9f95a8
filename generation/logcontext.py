"""The job a worker is running, for every log line it writes meanwhile (structured logs
carry `job_id` without each call passing it)."""

from __future__ import annotations

import logging
from contextvars import ContextVar

current_job_id: ContextVar[int | None] = ContextVar("current_job_id", default=None)


class JobIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None:
            record.job_id = current_job_id.get()
        return True
