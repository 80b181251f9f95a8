"""GPU worker lifecycle: register on `worker_ready`, heartbeat from a thread, go
offline on shutdown. Only workers that consume a model profile's queue register."""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, TypedDict

from celery.signals import worker_ready, worker_shutdown
from django.db import close_old_connections

from generation.conf import heartbeat_seconds, profile_queues

if TYPE_CHECKING:  # pragma: no cover
    from celery.worker.consumer import Consumer

    from generation.models import Worker

log = logging.getLogger(__name__)


class _WorkerState(TypedDict):
    """This process's registration: set on worker_ready, read on shutdown."""

    stop: threading.Event | None
    hostname: str | None
    queues: list[str]


_state: _WorkerState = {"stop": None, "hostname": None, "queues": []}


def register_current_worker(*, hostname: str, queues: list[str]) -> Worker:
    from generation import services
    from generation.pipelines import device_info

    info = device_info()
    return services.worker_register(
        hostname=hostname,
        queues=queues,
        device=info["device"],
        device_name=info["device_name"],
        memory_bytes=info["memory_bytes"],
        torch_version=info["torch_version"],
        cuda_version=info["cuda_version"],
        pid=os.getpid(),
    )


def _heartbeat_loop(hostname: str, queues: list[str], stop: threading.Event) -> None:
    from generation import services, storage
    from generation.runner import running_jobs

    while not stop.wait(heartbeat_seconds()):
        try:
            close_old_connections()
            # The heartbeat vouches for this worker, its media and the jobs it is running.
            services.jobs_touch(job_ids=list(running_jobs))
            if services.worker_heartbeat(hostname=hostname, media_writable=storage.media_writable()) is None:
                register_current_worker(hostname=hostname, queues=queues)
        except Exception:  # a DB hiccup must not kill the heartbeat for good
            log.exception("heartbeat failed")
        finally:
            close_old_connections()


def _consumed_queues(consumer: Consumer) -> list[str]:
    try:
        return sorted(q.name for q in consumer.task_consumer.queues)
    except Exception:
        try:
            return sorted(consumer.app.amqp.queues.consume_from)
        except Exception:
            return []


# celery ships no type stubs (its signals are Any), so its connect decorator is untyped.
@worker_ready.connect  # type: ignore[untyped-decorator]  # celery is untyped
def on_worker_ready(sender: Consumer | None = None, **kwargs: object) -> None:
    if sender is None:  # no consumer: it consumes no queue
        return
    queues = _consumed_queues(sender)
    gpu_queues = set(profile_queues())
    if not gpu_queues.intersection(queues):
        return
    hostname = sender.hostname
    os.environ["HF_HUB_OFFLINE"] = "1"
    from generation import services, storage

    try:
        # This process runs nothing yet: jobs recorded as running under its name were left
        # by the process before it (killed, restarted under the same name).
        services.worker_release_jobs_on_start(hostname=hostname)
        register_current_worker(hostname=hostname, queues=queues)
        if not storage.media_writable():
            services.worker_heartbeat(hostname=hostname, media_writable=False)
            log.error("generation worker %s: media is not writable; it will claim no jobs until it is", hostname)
    finally:
        close_old_connections()
    stop = threading.Event()
    _state.update({"stop": stop, "hostname": hostname, "queues": queues})
    threading.Thread(
        target=_heartbeat_loop, args=(hostname, queues, stop), name="generation-heartbeat", daemon=True
    ).start()
    threading.Thread(target=_warm_up, args=(queues, hostname), name="generation-warmup", daemon=True).start()
    log.info("generation worker %s registered for %s", hostname, ", ".join(queues))


def _warm_up(queues: list[str], hostname: str | None = None) -> None:
    """Import diffusers and load the pipelines of the profiles this worker serves, so the
    first job does not pay for it; on CUDA, compile them for their shape buckets (issue 18),
    reporting the compile time in the log and on the worker row. Failures are left for the
    job to report."""
    from django.conf import settings

    if not getattr(settings, "GENERATION_PRELOAD_PIPELINES", True):
        return
    from generation import pipelines
    from generation.conf import get_profile, profiles

    notes: list[str] = []
    compile_seconds: float | None = None
    for key in profiles():
        try:
            profile = get_profile(key, check_dir=False)
            if profile.queue in queues:
                for mode in profile.pipelines:
                    pipelines.get_pipeline(profile, mode)
                compiled = pipelines.compile_for_worker(profile)
                log.info("generation worker warm-up: %s", compiled["note"])
                notes.append(str(compiled["note"]))
                if compiled["seconds"] is not None:
                    compile_seconds = (compile_seconds or 0.0) + float(compiled["seconds"])
        except Exception as exc:
            log.warning("warm-up of %s skipped: %s", key, exc)
        finally:
            close_old_connections()
    if hostname and notes:
        from generation import services

        try:
            services.worker_record_warmup(hostname=hostname, compile_seconds=compile_seconds, note="; ".join(notes))
        except Exception:  # the row is a report; the worker serves without it
            log.exception("could not record the warm-up")
        finally:
            close_old_connections()


@worker_shutdown.connect  # type: ignore[untyped-decorator]  # celery is untyped
def on_worker_shutdown(sender: object = None, **kwargs: object) -> None:
    stop, hostname = _state["stop"], _state["hostname"]
    if stop is None or hostname is None:  # set together on worker_ready: this one never registered
        return
    stop.set()
    from generation import services

    try:
        services.worker_go_offline(hostname=hostname)
    except Exception:
        log.exception("could not mark worker offline")
    finally:
        close_old_connections()
