import pytest

from tester_platform.labour.services import feedback_submit, time_entry_submit
from tests.labour.helpers import make_rate_card


@pytest.fixture
def rate_card(program):
    return make_rate_card(program)


@pytest.fixture
def report(artist, program, rate_card):
    return feedback_submit(
        artist=artist,
        program=program,
        category="bug",
        severity="high",
        title="Hands melt at frame 5",
        body="Prompt: a juggler. Hands merge into the balls.",
    )


@pytest.fixture
def time_entry(artist, program, rate_card):
    import datetime as dt

    from django.utils import timezone

    return time_entry_submit(
        artist=artist,
        program=program,
        date=timezone.localdate() - dt.timedelta(days=1),
        minutes=90,
        description="Tried 30 prompts about water; logged 3 reports.",
    )
