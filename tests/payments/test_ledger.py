"""The earnings ledger: exactly-once postings, append-only rows, integer arithmetic with
documented rounding, and balances that are the plain sum of the lines."""

import pytest

from payments.errors import ImmutableLedger, InvalidPosting, LedgerConflict
from payments.ledger import (
    floor_target_minor,
    floor_topup_minor,
    ledger_post,
    ledger_reverse,
    payout_post,
    share_bonus_post,
    time_amount_minor,
)
from payments.models import LedgerEntry
from payments.selectors import balance_for, balances_for, unpaid_balances
from tests.labour.helpers import make_rate_card

pytestmark = pytest.mark.django_db


def post(artist, program, *, kind="adjustment", amount=1000, source_id=1, **kwargs):
    return ledger_post(
        artist=artist,
        program_id=program.pk,
        kind=kind,
        amount_minor=amount,
        currency="EUR",
        source=("tests.thing", source_id),
        **kwargs,
    )


@pytest.mark.parametrize(
    "rate,minutes,expected",
    [
        (2500, 60, 2500),
        (2500, 1, 42),
        (1250, 1, 21),
        (30, 1, 1),
        (90, 1, 2),
        (2500, 90, 3750),
        (0, 600, 0),
    ],
)
def test_time_amount_rounds_to_the_nearest_minor_unit_halves_up(rate, minutes, expected):
    assert time_amount_minor(hourly_rate_minor=rate, minutes=minutes) == expected


@pytest.mark.parametrize("rate,minutes,expected", [(1200, 600, 12000), (1234, 601, 12361), (1, 1, 1), (0, 10, 0)])
def test_floor_target_rounds_up_so_the_floor_is_never_missed(rate, minutes, expected):
    assert floor_target_minor(floor_hourly_minor=rate, minutes=minutes) == expected
    assert floor_target_minor(floor_hourly_minor=rate, minutes=minutes) * 60 >= rate * minutes


def test_floor_topup_is_the_difference_or_nothing():
    assert floor_topup_minor(floor_hourly_minor=1200, minutes=600, earned_minor=5600) == 6400
    assert floor_topup_minor(floor_hourly_minor=1200, minutes=600, earned_minor=13000) == 0


@pytest.mark.parametrize("bad", [12.5, "100", None, True])
def test_money_arithmetic_refuses_anything_but_integers(bad):
    with pytest.raises(InvalidPosting):
        time_amount_minor(hourly_rate_minor=bad, minutes=60)


def test_posting_the_same_source_and_kind_twice_returns_the_first_entry(artist, program):
    first = post(artist, program, kind="feedback_bounty", amount=2500)
    again = post(artist, program, kind="feedback_bounty", amount=2500)
    assert first.created and not again.created
    assert again.pk == first.pk
    assert LedgerEntry.objects.count() == 1
    # Another kind for the same source is another entry (e.g. a bonus beside a bounty).
    post(artist, program, kind="adjustment", amount=-100)
    assert LedgerEntry.objects.count() == 2


def test_a_duplicate_with_other_terms_is_a_conflict_not_a_second_entry(artist, other_artist, program):
    post(artist, program, kind="time", amount=2500)
    with pytest.raises(LedgerConflict):
        post(artist, program, kind="time", amount=2600)
    with pytest.raises(LedgerConflict):
        post(other_artist, program, kind="time", amount=2500)
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(amount=0), "amount_minor"),
        (dict(kind="time", amount=-5), "amount_minor"),
        (dict(kind="payout", amount=500), "amount_minor"),
        (dict(amount=10.0), "amount_minor"),
        (dict(kind="bonus"), "kind"),
        (dict(kind="reversal", amount=-5), "reverses"),
    ],
)
def test_invalid_postings_are_refused_and_nothing_is_written(artist, program, kwargs, field):
    with pytest.raises(InvalidPosting) as error:
        post(artist, program, **kwargs)
    assert error.value.field == field
    assert LedgerEntry.objects.count() == 0


@pytest.mark.parametrize("currency", ["eur", "EURO", "", "E1R"])
def test_currency_is_an_iso_code(artist, program, currency):
    with pytest.raises(InvalidPosting):
        ledger_post(
            artist=artist,
            program_id=program.pk,
            kind="adjustment",
            amount_minor=5,
            currency=currency,
            source=("tests.thing", 1),
        )


def test_a_rate_card_must_match_program_and_currency_and_be_published(artist, program, other_program):
    card = make_rate_card(other_program)
    with pytest.raises(InvalidPosting):
        post(artist, program, rate_card=card)
    draft = make_rate_card(program, published=False)
    with pytest.raises(InvalidPosting):
        post(artist, program, rate_card=draft)
    usd = make_rate_card(program, version=2, currency="USD")
    with pytest.raises(InvalidPosting):
        post(artist, program, rate_card=usd)


def test_entries_are_append_only_through_the_orm(artist, program):
    entry = post(artist, program)
    entry.amount_minor = 1
    with pytest.raises(ImmutableLedger):
        entry.save()
    with pytest.raises(ImmutableLedger):
        entry.delete()
    with pytest.raises(ImmutableLedger):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount_minor=1)
    with pytest.raises(ImmutableLedger):
        LedgerEntry.objects.all().delete()
    entry.refresh_from_db()
    assert entry.amount_minor == 1000


def test_the_ledger_admin_is_read_only(client, admin_user, artist, program):
    entry = post(artist, program)
    client.force_login(admin_user)
    assert client.get("/admin/payments/ledgerentry/").status_code == 200
    page = client.get(f"/admin/payments/ledgerentry/{entry.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(f"/admin/payments/ledgerentry/{entry.pk}/change/", {"amount_minor": 1}).status_code == 403
    assert client.post(f"/admin/payments/ledgerentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/payments/ledgerentry/add/").status_code == 403
    entry.refresh_from_db()
    assert entry.amount_minor == 1000


def test_balances_earned_paid_unpaid_and_reversals(artist, program):
    post(artist, program, kind="time", amount=5000, source_id=1)
    bounty = post(artist, program, kind="feedback_bounty", amount=1000, source_id=2)
    payout = payout_post(
        artist=artist, program_id=program.pk, amount_minor=4000, currency="EUR", source=("payments.payout", 1)
    )
    assert payout.amount_minor == -4000
    assert balance_for(artist=artist, currency="EUR").as_dict() == {"earned": 6000, "paid": 4000, "unpaid": 2000}
    # The transfer failed: reversing the payout gives the money back to the unpaid balance.
    reversal = ledger_reverse(entry=payout, memo="transfer failed")
    assert reversal.amount_minor == 4000 and reversal.reverses_id == payout.pk
    assert ledger_reverse(entry=payout).pk == reversal.pk  # once only
    # An earning posted in error is reversed too: earned goes down.
    ledger_reverse(entry=bounty)
    balance = balance_for(artist=artist, currency="EUR")
    assert balance.as_dict() == {"earned": 5000, "paid": 0, "unpaid": 5000}
    assert balance.unpaid == sum(LedgerEntry.objects.values_list("amount_minor", flat=True))
    with pytest.raises(InvalidPosting):
        ledger_reverse(entry=reversal)


def test_unpaid_balances_per_artist_and_currency_for_payout_runs(artist, other_artist, program):
    post(artist, program, kind="time", amount=5000, source_id=1)
    post(other_artist, program, kind="time", amount=700, source_id=2)
    payout_post(
        artist=other_artist, program_id=program.pk, amount_minor=700, currency="EUR", source=("payments.payout", 9)
    )
    ledger_post(
        artist=artist,
        program_id=program.pk,
        kind="adjustment",
        amount_minor=300,
        currency="USD",
        source=("tests.thing", 3),
    )
    assert unpaid_balances() == [
        {"artist_id": artist.pk, "currency": "EUR", "unpaid_minor": 5000},
        {"artist_id": artist.pk, "currency": "USD", "unpaid_minor": 300},
    ]
    assert unpaid_balances(currency="EUR", program_id=program.pk) == [
        {"artist_id": artist.pk, "currency": "EUR", "unpaid_minor": 5000}
    ]
    assert [b.currency for b in balances_for(artist=artist)] == ["EUR", "USD"]


def test_share_bonus_posts_once_at_the_rate_cards_bonus(artist, program):
    card = make_rate_card(program, share_bonus_minor=500)
    first = share_bonus_post(artist=artist, program_id=program.pk, rate_card=card, share_request_id=41)
    second = share_bonus_post(artist=artist, program_id=program.pk, rate_card=card, share_request_id=41)
    assert first.pk == second.pk and first.amount_minor == 500 and first.kind == "share_bonus"
    assert first.source_type == "sharing.sharerequest" and first.rate_card_version == 1
    free = make_rate_card(program, version=2, share_bonus_minor=0)
    assert share_bonus_post(artist=artist, program_id=program.pk, rate_card=free, share_request_id=42) is None


def test_losing_the_insert_race_returns_the_winners_entry(artist, program, monkeypatch):
    """Check-then-insert races: the pre-check saw nothing, but another transaction inserted
    first. The unique constraint refuses the second row, the savepoint rolls it back, and
    the caller gets the winner's entry, inside a transaction that is still usable."""
    import payments.ledger as ledger

    winner = post(artist, program, kind="time", amount=2500)
    real_existing = ledger._existing
    calls = []

    def blind_first(*args):
        calls.append(args)
        return None if len(calls) == 1 else real_existing(*args)

    monkeypatch.setattr(ledger, "_existing", blind_first)
    loser = post(artist, program, kind="time", amount=2500)
    assert len(calls) == 2 and loser.pk == winner.pk and loser.created is False
    assert LedgerEntry.objects.count() == 1  # and the transaction still works
