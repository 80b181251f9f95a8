"""For random sequences of events — filing, accepting (sometimes twice), rejecting,
payouts, reversals, adjustments — each artist's ledger sum equals what an independent
model of the rules says they are owed, and the balance shown on the earnings page and
returned by the API.

The model is the rules written out again, not the code under test: the bounties of the rate
card, pay for time as an exact fraction rounded half up, and its own list of the entries it
expects to exist (which are reversed, who they belong to, for how much)."""

import contextlib
import datetime as dt
import math
import re
from fractions import Fraction

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.errors import PaymentsError
from payments.ledger import ledger_post, ledger_reverse, payout_post
from payments.models import LedgerEntry
from tester_platform.accounts.roles import MODERATOR
from tester_platform.errors import DomainError
from tester_platform.labour.services import feedback_review, feedback_submit, time_entry_review, time_entry_submit
from tester_platform.programs.models import ProgramStaff
from tests.conftest import api_as
from tests.factories import ConsentDocumentFactory, ProgramFactory, UserFactory, add_staff, enroll, make_artist, sign
from tests.labour.helpers import BOUNTIES, make_rate_card

pytestmark = pytest.mark.django_db
ARTISTS = 2
HOURLY_RATE_MINOR = 1999


def pay_for_minutes(minutes: int) -> int:
    """The rate card's rule: minutes × hourly rate / 60, to the nearest cent, halves up."""
    return math.floor(Fraction(HOURLY_RATE_MINOR * minutes, 60) + Fraction(1, 2))


artist_ix = st.integers(0, ARTISTS - 1)
events = st.lists(
    st.one_of(
        st.tuples(st.just("feedback"), artist_ix, st.sampled_from(["low", "medium", "high", "critical"])),
        st.tuples(st.just("time"), artist_ix, st.integers(-10, 900), st.integers(-1, 5)),
        st.tuples(st.just("accept"), st.integers(0, 30)),
        st.tuples(st.just("reject"), st.integers(0, 30)),
        st.tuples(st.just("payout"), artist_ix, st.integers(1, 20_000)),
        st.tuples(st.just("reverse"), st.integers(0, 30)),
        st.tuples(st.just("adjust"), artist_ix, st.integers(-5_000, 5_000)),
    ),
    max_size=25,
)


class World:
    def __init__(self):
        self.program = ProgramFactory(slug="prop", name="Property Program")
        ConsentDocumentFactory(program=self.program)
        self.card = make_rate_card(self.program, hourly_rate_minor=HOURLY_RATE_MINOR, daily_time_cap_minutes=12 * 60)
        self.artists = []
        for n in range(ARTISTS):
            artist = make_artist(email=f"prop{n}@example.test")
            enroll(artist, self.program)
            sign(artist, self.program)
            self.artists.append(artist)
        self.moderator = UserFactory(email="prop-mod@example.test", roles=[MODERATOR])
        add_staff(self.moderator, self.program, ProgramStaff.Role.MODERATOR)
        self.items = []  # (kind, object)
        self.expected = [0] * ARTISTS
        # The entries the model expects, in the order they were posted (reversals apart):
        # [artist index, amount, reversed yet].
        self.entries: list[list] = []
        self.payouts = 0

    def owed(self, n) -> int:
        return sum(LedgerEntry.objects.filter(artist=self.artists[n]).values_list("amount_minor", flat=True))

    def apply(self, event):
        name, *args = event
        with contextlib.suppress(
            DomainError, PaymentsError
        ):  # refused events must leave no trace; the final equality checks that
            getattr(self, name)(*args)

    def feedback(self, n, severity):
        report = feedback_submit(
            artist=self.artists[n], program=self.program, category="bug", severity=severity, title="t", body="b"
        )
        self.items.append(("feedback", report, n))

    def time(self, n, minutes, days_ago):
        entry = time_entry_submit(
            artist=self.artists[n],
            program=self.program,
            minutes=minutes,
            date=timezone.localdate() - dt.timedelta(days=days_ago),
            description="d",
        )
        self.items.append(("time", entry, n))

    def _item(self, i):
        if not self.items:
            raise DomainError("nothing filed yet")
        return self.items[i % len(self.items)]

    def accept(self, i):
        kind, item, n = self._item(i)
        if kind == "feedback":
            feedback_review(report=item, reviewer=self.moderator, decision="accept")
            self._posted(n, BOUNTIES[f"bounty_{item.severity}_minor"])
        else:
            time_entry_review(entry=item, reviewer=self.moderator, decision="accept")
            self._posted(n, pay_for_minutes(item.minutes))

    def _posted(self, n, amount):
        self.entries.append([n, amount, False])
        self.expected[n] += amount

    def reject(self, i):
        kind, item, _ = self._item(i)
        review = feedback_review if kind == "feedback" else time_entry_review
        review(
            **{"report" if kind == "feedback" else "entry": item},
            reviewer=self.moderator,
            decision="reject",
            reason="not reproducible",
        )

    def payout(self, n, amount):
        owed = self.expected[n]  # what the model says is owed, not the ledger's sum
        if owed <= 0:
            return
        self.payouts += 1
        payout_post(
            artist=self.artists[n],
            program_id=self.program.pk,
            amount_minor=min(amount, owed),
            currency="EUR",
            source=("payments.payout", self.payouts),
        )
        self._posted(n, -min(amount, owed))

    def reverse(self, i):
        entries = list(LedgerEntry.objects.exclude(kind="reversal").order_by("id"))
        assert len(entries) == len(self.entries), "the ledger holds other entries than the rules post"
        if not entries:
            return
        model = self.entries[i % len(entries)]
        ledger_reverse(entry=entries[i % len(entries)])  # a second time: must post nothing
        if not model[2]:
            n, amount, _ = model
            model[2] = True
            self.expected[n] -= amount

    def adjust(self, n, amount):
        ledger_post(
            artist=self.artists[n],
            program_id=self.program.pk,
            kind="adjustment",
            amount_minor=amount,
            currency="EUR",
            source=("tests.adjustment", len(self.entries) + 1),
        )
        self._posted(n, amount)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=events)
def test_ledger_sum_equals_the_balance_on_the_page_and_in_the_api(db, sequence):
    with transaction.atomic():
        world = World()
        for event in sequence:
            world.apply(event)
        for n, artist in enumerate(world.artists):
            ledger_sum = world.owed(n)
            assert ledger_sum == world.expected[n], (sequence, n)

            api = api_as(artist).get("/api/v1/earnings/").json()
            assert api["balance"]["unpaid"] == ledger_sum
            assert api["balance"]["earned"] - api["balance"]["paid"] == ledger_sum
            assert sum(line["amount"] for line in api["lines"]) == ledger_sum

            client = Client()
            client.force_login(artist)
            page = client.get("/labour/earnings/").content.decode()
            shown = re.search(r'data-earned="(-?\d+)" data-unpaid="(-?\d+)" data-paid="(-?\d+)"', page)
            assert [int(v) for v in shown.groups()] == [api["balance"][k] for k in ("earned", "unpaid", "paid")]
            assert sum(int(v) for v in re.findall(r'data-amount="(-?\d+)"', page)) == ledger_sum
        transaction.set_rollback(True)
