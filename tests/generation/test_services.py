import datetime as dt

import pytest
from django.utils import timezone

from generation import services
from generation.errors import InvalidParameters, InvalidTransition, QuotaExceeded, SourceNotUsable
from generation.models import GenerationJob, ImmutableUsageRecord, UsageRecord, Worker
from generation.selectors import quota_left, usage_totals
from generation.services import Budget, UsageStats
from tests.factories import ConsentDocumentFactory, ProgramFactory, enroll, sign
from tests.generation.conftest import Tester as Enrolled
from tests.generation.conftest import make_tester, submit

pytestmark = pytest.mark.django_db

USAGE = UsageStats(
    device_name="cpu", compute_seconds=1.5, wall_seconds=2.0, steps=4, frames=33, peak_memory_bytes=10_000
)


def _run_to_success(job, worker=None, usage=USAGE):
    claimed = services.job_claim(job_id=job.pk, worker=worker)
    assert services.job_succeed(job_id=job.pk, attempt=claimed.attempts, outputs=services.Outputs(), usage=usage)
    return GenerationJob.objects.get(pk=job.pk)


def test_submit_records_the_resolved_parameters_the_reservation_and_the_claims(tester):
    job = submit(tester, seed=None)
    assert job.status == "queued" and job.mode == "text_to_video"
    assert (job.width, job.height, job.num_frames, job.fps, job.steps) == (112, 64, 33, 16, 4)
    assert job.duration_seconds == pytest.approx(33 / 16)
    assert 0 <= job.seed <= services.MAX_SEED  # chosen at random, still recorded
    assert job.reserved_seconds == 5.0 and job.consent_record_id == tester.consent.pk
    assert job.celery_task_id and job.provenance_claims["consent_record_id"] == tester.consent.pk
    assert job.provenance_claims["artist_pseudonym"].startswith("atelier-artist-")
    assert tester.artist.email not in str(job.provenance_claims)


def test_submit_enqueues_on_the_profiles_queue_only_after_commit(
    tester, django_capture_on_commit_callbacks, monkeypatch
):
    from generation import tasks

    sent = []
    monkeypatch.setattr(tasks.run_job, "apply_async", lambda **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = submit(tester)
    assert sent == [] and callbacks
    for callback in callbacks:  # the enqueue, and the page cache's version bump
        callback()
    assert sent == [{"args": [job.pk], "queue": "gpu.wan-tiny", "task_id": job.celery_task_id}]


def test_it_refuses_over_the_concurrent_job_limit(tester):
    budget = dict(max_concurrent_jobs=2, daily_compute_seconds=1000, reserve_seconds=1)
    submit(tester, budget=budget)
    submit(tester, budget=budget)
    with pytest.raises(QuotaExceeded) as err:
        submit(tester, budget=budget)
    assert err.value.http_status == 429 and err.value.field == "concurrent_jobs"
    assert GenerationJob.objects.count() == 2


def test_it_refuses_when_the_days_reserved_plus_used_seconds_would_exceed_the_budget(tester):
    budget = dict(max_concurrent_jobs=10, daily_compute_seconds=10, reserve_seconds=4)
    first = submit(tester, budget=budget)
    submit(tester, budget=budget)
    with pytest.raises(QuotaExceeded) as err:
        submit(tester, budget=budget)  # 4 + 4 + 4 > 10
    assert err.value.field == "daily_compute_seconds" and "2 of today's 10" in err.value.message
    # finishing the first replaces its 4 s estimate by its 1.5 s of compute: room again
    _run_to_success(first)
    submit(tester, budget=budget)
    left = quota_left(artist=tester.artist, program_id=tester.program.pk, budget=Budget(**budget))
    assert left["compute_seconds_left_today"] == pytest.approx(10 - 1.5 - 4 - 4)
    assert left["concurrent_jobs_left"] == 8


def test_another_program_has_its_own_budget(tester):
    """The same artist in a second program: its budget is the artist's in that program, so a
    budget kept per artist alone (summing programs) fails here."""
    budget = dict(max_concurrent_jobs=1, daily_compute_seconds=10, reserve_seconds=4)
    first = submit(tester, budget=budget)
    elsewhere = ProgramFactory()
    ConsentDocumentFactory(program=elsewhere, version=1)
    there = Enrolled(tester.artist, elsewhere, enroll(tester.artist, elsewhere), sign(tester.artist, elsewhere))
    second = submit(there, budget=budget)  # the first program's running job does not count here
    assert first.status == second.status == "queued" and first.program_id != second.program_id
    with pytest.raises(QuotaExceeded) as err:  # while each program's own limit still holds
        submit(tester, budget=budget)
    assert err.value.field == "concurrent_jobs"

    def left(t):
        return quota_left(artist=t.artist, program_id=t.program.pk, budget=Budget(**budget))

    for t in (tester, there):
        assert left(t)["compute_seconds_charged_today"] == 4 and left(t)["active_jobs"] == 1
    # A different artist in the first program has a budget of their own too.
    neighbour = make_tester(program=tester.program)
    assert submit(neighbour, budget=budget).status == "queued"
    assert left(neighbour)["compute_seconds_charged_today"] == 4


def test_claiming_twice_runs_once(tester):
    job = submit(tester)
    first = services.job_claim(job_id=job.pk, worker=None)
    second = services.job_claim(job_id=job.pk, worker=None)
    assert first is not None and first.status == "running" and first.attempts == 1
    assert second is None


def test_completion_writes_exactly_one_usage_record_and_a_stale_attempt_is_void(tester):
    job = _run_to_success(submit(tester))
    assert job.status == "succeeded" and job.progress == 100
    assert not services.job_succeed(job_id=job.pk, attempt=1, outputs=services.Outputs(), usage=USAGE)
    assert not services.job_fail(job_id=job.pk, attempt=1, error="x", usage=USAGE)
    assert UsageRecord.objects.filter(job=job).count() == 1
    usage = job.usage
    assert usage.compute_seconds == 1.5 and usage.wall_seconds == 2.0 and usage.queue_seconds >= 0
    assert (usage.width, usage.height, usage.frames) == (112, 64, 33)
    assert usage_totals(artist=tester.artist)["compute_seconds"] == 1.5


def test_usage_records_are_immutable(tester):
    usage = _run_to_success(submit(tester)).usage
    usage.compute_seconds = 0
    with pytest.raises(ImmutableUsageRecord):
        usage.save()
    with pytest.raises(ImmutableUsageRecord):
        usage.delete()
    with pytest.raises(ImmutableUsageRecord):
        UsageRecord.objects.filter(pk=usage.pk).update(compute_seconds=0)
    with pytest.raises(ImmutableUsageRecord):
        UsageRecord.objects.all().delete()
    assert UsageRecord.objects.get(pk=usage.pk).compute_seconds == 1.5


def test_cancelling_a_queued_job_is_immediate_and_it_can_no_longer_be_claimed(tester):
    job = submit(tester)
    cancelled = services.job_cancel(job=job, actor=tester.artist)
    assert cancelled.status == "cancelled" and cancelled.cancelled_by == tester.artist
    assert services.job_claim(job_id=job.pk, worker=None) is None
    with pytest.raises(InvalidTransition) as err:
        services.job_cancel(job=job, actor=tester.artist)
    assert err.value.http_status == 409


def test_cancelling_a_running_job_asks_the_worker(tester):
    job = submit(tester)
    claimed = services.job_claim(job_id=job.pk, worker=None)
    services.job_cancel(job=job, actor=tester.artist)
    assert services.job_report_progress(job_id=job.pk, attempt=claimed.attempts, progress=40) is True
    usage = UsageStats(device_name="cpu", compute_seconds=0.3, wall_seconds=0.4, steps=2, frames=0, peak_memory_bytes=1)
    assert services.job_finish_cancelled(job_id=job.pk, attempt=claimed.attempts, usage=usage)
    job.refresh_from_db()
    assert job.status == "cancelled" and job.usage.cancelled and job.usage.steps == 2


@pytest.mark.parametrize(
    "params,field",
    [
        ({"mode": "sora_remix"}, "mode"),
        ({"mode": "image_to_video"}, "image"),
        ({"mode": "storyboard"}, "shots"),
        ({"shots": [services.Shot("a", 2)]}, "shots"),
        ({"mode": "loop"}, "source_generation"),
        ({"aspect_ratio": "5:4"}, "aspect_ratio"),
        ({"resolution": "8k"}, "resolution"),
        ({"resolution": "1080p"}, "resolution"),
        ({"duration_seconds": 0}, "duration_seconds"),
        ({"duration_seconds": 21}, "duration_seconds"),
        ({"prompt": "x" * 20_000}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"seed": -1}, "seed"),
        ({"steps": 0}, "steps"),
    ],
)
def test_bad_parameters_are_refused_with_the_field(params, field):
    base = dict(mode="text_to_video", prompt="p", duration_seconds=2, aspect_ratio="16:9", resolution="preview")
    with pytest.raises(InvalidParameters) as err:
        services.build_params(**{**base, **params})
    assert err.value.field == field and err.value.http_status == 400


def test_variation_needs_a_succeeded_source_of_the_same_artist(tester):
    source = submit(tester)
    with pytest.raises(SourceNotUsable):
        services.build_params(mode="variation", prompt="again", source_job=source)  # still queued
    source = _run_to_success(source)
    source.video.name = "generations/x/video.mp4"
    source.save(update_fields=["video"])
    params = services.build_params(mode="variation", prompt="again", source_job=source, strength=0.5)
    assert (params.width, params.height, params.num_frames, params.source_job_id) == (112, 64, 33, source.pk)
    ext = services.build_params(mode="extension", prompt="on", source_job=source, duration_seconds=1)
    assert ext.num_frames == 33 + 16 and ext.added_frames == 16
    other = make_tester(tester.program)
    from generation.services import job_submit

    with pytest.raises(SourceNotUsable) as err:
        job_submit(
            artist=other.artist,
            program_id=other.program.pk,
            enrollment_id=other.enrollment.pk,
            consent_record_id=other.consent.pk,
            training_use=False,
            params=params,
            budget=Budget(5, 1000, 1),
        )
    assert err.value.field == "source_generation"


def test_the_reaper_marks_silent_workers_lost_and_fails_their_jobs_releasing_quota(tester):
    now = timezone.now()
    worker = Worker.objects.create(hostname="gpu@dead", started_at=now, last_heartbeat=now - dt.timedelta(minutes=5))
    alive = Worker.objects.create(hostname="gpu@alive", started_at=now, last_heartbeat=now)
    budget = dict(max_concurrent_jobs=1, daily_compute_seconds=10, reserve_seconds=8)
    job = submit(tester, budget=budget)
    services.job_claim(job_id=job.pk, worker=worker)
    result = services.workers_reap_lost()
    assert result["lost_workers"] == [worker.pk] and result["failed_jobs"] == [job.pk]
    job.refresh_from_db()
    worker.refresh_from_db()
    alive.refresh_from_db()
    assert job.status == "failed" and "stopped responding" in job.error
    assert worker.status == "lost" and alive.status == "online"
    assert not UsageRecord.objects.filter(job=job).exists()
    submit(tester, budget=budget)  # both the concurrency slot and the 8 s are free again


def test_the_reaper_can_requeue_instead(tester, settings, django_capture_on_commit_callbacks):
    settings.GENERATION_REQUEUE_LOST_JOBS = True
    now = timezone.now()
    worker = Worker.objects.create(hostname="gpu@dead", started_at=now, last_heartbeat=now - dt.timedelta(minutes=5))
    job = submit(tester)
    services.job_claim(job_id=job.pk, worker=worker)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.workers_reap_lost()["requeued_jobs"] == [job.pk]
    # one dispatch after commit (other apps' listeners may add their own callbacks)
    assert len([c for c in callbacks if getattr(c, "__qualname__", "").startswith("_enqueue_on_commit.")]) == 1
    job.refresh_from_db()
    assert job.status == "queued" and job.worker is None
    again = services.job_claim(job_id=job.pk, worker=None)
    assert again.attempts == 2
    # the dead attempt's late result is void
    assert not services.job_succeed(job_id=job.pk, attempt=1, outputs=services.Outputs(), usage=USAGE)


def test_estimate_is_positive():
    params = services.build_params(
        mode="text_to_video", prompt="p", duration_seconds=2, aspect_ratio="1:1", resolution="preview"
    )
    assert services.estimate_compute_seconds(params) >= 1.0
