"""50 simultaneous submissions with quota for 10: exactly 10 are accepted. On PostgreSQL
(CI) this is real row locking across connections; on SQLite, immediate transactions."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from generation.models import GenerationJob
from generation.services import build_params, estimate_compute_seconds
from tester_platform.programs.models import Program
from tester_platform.studio.services import generation_submit
from tests.factories import ConsentDocumentFactory, ProgramFactory, enroll, make_artist, sign
from tests.studio.conftest import purge

pytestmark = pytest.mark.django_db(transaction=True)

PARAMS = dict(
    mode="text_to_video",
    prompt="a crowd of submissions",
    duration_seconds=1,
    aspect_ratio="1:1",
    resolution="preview",
    seed=1,
)


def test_fifty_simultaneous_submissions_with_quota_for_ten_accept_exactly_ten():
    program = ProgramFactory(slug="race", max_concurrent_jobs=100)
    ConsentDocumentFactory(program=program)
    artist = make_artist(email="racer@example.test")
    enroll(artist, program)
    sign(artist, program)
    each = estimate_compute_seconds(build_params(profile_key=program.model_profile, **PARAMS))
    Program.objects.filter(pk=program.pk).update(daily_compute_seconds=int(each * 10 + each / 2))
    program.refresh_from_db()

    start = threading.Barrier(50)

    def attempt(_):
        try:
            start.wait()
            generation_submit(artist=artist, program=program, **PARAMS)
            return 201
        except Exception as error:
            return getattr(error, "http_status", repr(error))
        finally:
            connection.close()

    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(attempt, range(50)))
    finally:
        purge()
    assert results.count(201) == 10, results
    assert results.count(429) == 40, results
    assert GenerationJob.objects.filter(artist=artist).count() == 10
    print(f"{connection.vendor}: {results.count(201)} accepted, {results.count(429)} refused")
