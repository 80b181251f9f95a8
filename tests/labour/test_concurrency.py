"""Accepting the same item at once — a double click, two reviewers, a retried request —
posts one ledger entry. Real concurrent transactions: row locks on PostgreSQL (CI),
immediate transactions on SQLite."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from payments.ledger import ledger_post
from payments.models import LedgerEntry
from tester_platform.accounts.roles import MODERATOR
from tester_platform.labour.services import feedback_review, feedback_submit, time_entry_review, time_entry_submit
from tester_platform.programs.models import ProgramStaff
from tests.factories import ConsentDocumentFactory, ProgramFactory, UserFactory, add_staff, enroll, make_artist, sign
from tests.labour.helpers import make_rate_card

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8


def race(fn):
    start = threading.Barrier(THREADS)

    def attempt(i):
        try:
            start.wait()
            fn(i)
            return "ok"
        except Exception as error:
            return getattr(error, "http_status", repr(error))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(attempt, range(THREADS)))


@pytest.fixture
def setup():
    program = ProgramFactory(slug="race-labour")
    ConsentDocumentFactory(program=program)
    make_rate_card(program)
    artist = make_artist(email="racer@example.test")
    enroll(artist, program)
    sign(artist, program)
    reviewers = []
    for n in range(THREADS):
        user = UserFactory(email=f"mod{n}@example.test", roles=[MODERATOR])
        add_staff(user, program, ProgramStaff.Role.MODERATOR)
        reviewers.append(user)
    return program, artist, reviewers


def test_many_reviewers_accepting_one_report_at_once_post_one_entry(setup):
    program, artist, reviewers = setup
    report = feedback_submit(artist=artist, program=program, category="bug", severity="high", title="t", body="b")
    results = race(lambda i: feedback_review(report=report, reviewer=reviewers[i], decision="accept"))
    assert results.count("ok") == 1 and results.count(409) == THREADS - 1, results
    entry = LedgerEntry.objects.get()
    assert entry.amount_minor == 2500 and entry.source_id == str(report.pk)
    print(f"{connection.vendor}: {results}")


def test_double_clicked_time_acceptance_posts_one_entry(setup):
    import datetime as dt

    from django.utils import timezone

    program, artist, reviewers = setup
    entry = time_entry_submit(
        artist=artist, program=program, date=timezone.localdate() - dt.timedelta(days=1), minutes=120, description="d"
    )
    results = race(lambda i: time_entry_review(entry=entry, reviewer=reviewers[0], decision="accept"))
    assert results.count("ok") == 1 and results.count(409) == THREADS - 1, results
    assert list(LedgerEntry.objects.values_list("amount_minor", flat=True)) == [5000]


def test_concurrent_postings_of_one_source_are_decided_by_the_unique_constraint(setup):
    """Without the platform's row lock, the engine alone still writes one entry: the losers
    of the insert race read the winner's row."""
    program, artist, _ = setup
    seen = []
    results = race(
        lambda i: seen.append(
            ledger_post(
                artist=artist,
                program_id=program.pk,
                kind="adjustment",
                amount_minor=777,
                currency="EUR",
                source=("tests.retry", 1),
            ).pk
        )
    )
    assert results == ["ok"] * THREADS, results
    assert LedgerEntry.objects.count() == 1 and set(seen) == {LedgerEntry.objects.get().pk}
