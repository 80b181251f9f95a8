"""The pages people use most run a constant, small number of queries however much data
there is (≤ 10 each): list views join or aggregate, never loop per row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from generation.models import GenerationJob
from payments.models import LedgerEntry, RateCard
from tests.factories import make_output

MAX_QUERIES = 10


@pytest.fixture(autouse=True)
def _render_every_time(settings):
    # These count what a render costs; the page cache (tests/core/test_page_cache.py) would
    # answer the second visit without one.
    settings.PAGE_CACHE_SECONDS = 0


def grow(artist, program, *, jobs: int, ledger: int):
    template = make_output(artist, program, frames=1, width=16, height=16)
    GenerationJob.objects.bulk_create(
        [
            GenerationJob(
                artist=artist,
                program=program,
                enrollment=template.enrollment,
                consent_record=template.consent_record,
                training_use=False,
                mode="text_to_video",
                prompt=f"p{n}",
                seed=n,
                width=16,
                height=16,
                num_frames=1,
                fps=16,
                steps=1,
                duration_seconds=0.1,
                aspect_ratio="1:1",
                resolution="preview",
                model_profile="wan-tiny",
                status="succeeded",
                video=template.video.name,
                thumbnail=template.thumbnail.name,
            )
            for n in range(jobs)
        ]
    )
    card = RateCard.objects.filter(program=program).first() or RateCard.objects.create(
        program=program, version=1, hourly_rate_minor=2000, pay_floor_hourly_minor=1200, published_at=timezone.now()
    )
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                artist=artist,
                program=program,
                kind="adjustment",
                amount_minor=100 + n,
                currency=card.currency,
                source_type="test.grow",
                source_id=f"{artist.pk}-{LedgerEntry.objects.count()}-{n}",
                source_label="adjustment",
            )
            for n in range(ledger)
        ]
    )


def count_queries(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("path", ["/", "/studio/", "/labour/earnings/", "/sharing/"])
def test_artist_pages_run_constant_queries(client, artist, program, path):
    client.force_login(artist)
    grow(artist, program, jobs=3, ledger=3)
    client.get(path)  # warm: the nav's unread count is cached per person after the first page
    small = count_queries(client, path)
    grow(artist, program, jobs=150, ledger=150)
    large = count_queries(client, path)
    assert small == large <= MAX_QUERIES, (small, large)


def test_moderation_queue_runs_few_queries(client, moderator, artist, program):
    from tester_platform.sharing.services import share_request_create

    client.force_login(moderator)
    for _ in range(3):
        share_request_create(
            artist=artist,
            generation_id=make_output(artist, program, frames=1, width=16, height=16).pk,
            caption="c",
            destination="portfolio",
        )
    assert count_queries(client, "/dashboard/sharing/") <= MAX_QUERIES
