"""Payout reports: totals by program / artist / kind that reconcile with the ledger, GPU
seconds beside labour paid, charts, CSV and PDF (read back with pypdf)."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone
from pypdf import PdfReader

from payments.models import LedgerEntry, Payout, PayoutLine
from payments.payouts import payout_run_execute
from tests.conftest import api_as
from tests.finance.helpers import accept_labour, ledger_unpaid, prepare_and_approve
from tests.labour.helpers import make_rate_card
from tests.payments.stripe_server import deliver_all

pytestmark = pytest.mark.django_db


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def paid_run(stripe_server, client, program, artist, other_artist, moderator):
    make_rate_card(program, bounty_high_minor=2500, bounty_medium_minor=1000)
    for person in (artist, other_artist):
        url = api_as(person).post("/api/v1/payout-account/").json()["onboarding_url"]
        stripe_server.onboard(url)
    deliver_all(client, stripe_server.events())
    accept_labour(artist, program, moderator, severity="high")
    accept_labour(artist, program, moderator, severity="medium")
    accept_labour(other_artist, program, moderator, severity="high")
    # Alice was paid once before: the run pays only what is new.
    first = prepare_and_approve(program=program)
    payout_run_execute(run_id=first.pk)
    accept_labour(artist, program, moderator, severity="medium")
    run = prepare_and_approve(program=program)
    payout_run_execute(run_id=run.pk)
    deliver_all(client, stripe_server.events())
    from tests.labour.helpers import make_job

    job = make_job(artist, program)
    from generation.models import UsageRecord

    UsageRecord.objects.create(
        job=job,
        artist=artist,
        program=program,
        model_profile="wan-tiny",
        device_name="cpu",
        compute_seconds=42.4,
        wall_seconds=50.0,
        queue_seconds=1.0,
        frames=9,
        width=64,
        height=64,
        steps=4,
        peak_memory_bytes=1,
    )
    return run


def test_the_run_csv_totals_equal_the_ledger_sums(paid_run, client, finance_user, artist):
    client.force_login(finance_user)
    response = client.get(f"/reports/payouts/{paid_run.pk}.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_artist = [r for r in rows if r["section"] == "by_artist"]
    assert [(r["artist"], int(r["amount_minor"])) for r in by_artist] == [(artist.email, 1000)]

    line_ids = PayoutLine.objects.filter(payout__run=paid_run).values_list("pk", flat=True)
    ledger_paid = -sum(
        LedgerEntry.objects.filter(
            kind="payout", source_type="payments.payoutline", source_id__in=[str(i) for i in line_ids]
        ).values_list("amount_minor", flat=True)
    )
    total_paid = next(int(r["amount_minor"]) for r in rows if r["section"] == "total" and r["status"] == "paid")
    assert total_paid == ledger_paid == sum(int(r["amount_minor"]) for r in by_artist)

    # By kind: the composition of what was paid, kind by kind, equals the ledger's sums.
    by_kind = {r["kind"]: int(r["amount_minor"]) for r in rows if r["section"] == "by_kind"}
    ledger = LedgerEntry.objects.filter(artist=artist, created_at__lt=paid_run.created_at)
    for kind, amount in by_kind.items():
        assert amount == sum(ledger.filter(kind=kind).values_list("amount_minor", flat=True)), kind
    assert sum(by_kind.values()) == paid_run.total_minor["EUR"] == 1000
    by_program = [r for r in rows if r["section"] == "by_program" and r["status"] == "paid"]
    assert [(r["program"], int(r["amount_minor"])) for r in by_program] == [("Main Program", 1000)]


def test_the_run_report_page_has_charts_and_compute_beside_pay(paid_run, client, finance_user):
    client.force_login(finance_user)
    page = client.get(f"/finance/reports/runs/{paid_run.pk}/").content.decode()
    for chart in ("chart-paid-by-program", "chart-gpu-by-program", "chart-by-kind"):
        assert f'id="{chart}"' in page
    assert "<script" not in page.split("<main", 1)[1] and "style=" not in page
    assert ">42<" in page  # GPU seconds metered for the program


def test_the_run_pdf_renders_and_reads_back(paid_run, client, finance_user, artist):
    client.force_login(finance_user)
    response = client.get(f"/reports/payouts/{paid_run.pk}.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert f"Payout run #{paid_run.pk}" in text
    assert artist.email in text and "€10.00" in text and "Main Program" in text


def test_the_period_report_csv_and_pdf(paid_run, client, finance_user):
    client.force_login(finance_user)
    today = timezone.localdate().isoformat()
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"/reports/payouts/period.csv?start={today}&end={today}").content.decode())
        )
    )
    paid = sum(int(r["amount_minor"]) for r in rows if r["section"] == "by_artist" and r["status"] in ("sent", "paid"))
    assert paid == -sum(LedgerEntry.objects.filter(kind="payout").values_list("amount_minor", flat=True)) == 7000
    earned = {r["kind"]: int(r["amount_minor"]) for r in rows if r["section"] == "by_kind"}
    assert earned["feedback_bounty"] == 7000
    assert "Payouts by period" in pdf_text(client.get(f"/reports/payouts/period.pdf?start={today}&end={today}").content)
    page = client.get(f"/finance/reports/?start={today}&end={today}")
    assert page.status_code == 200 and b'id="chart-paid-by-program"' in page.content
    assert client.get("/finance/reports/?start=2025-02-30&end=x").status_code == 400
    assert client.get("/reports/payouts/period.csv?start=2026-01-02&end=2026-01-01").status_code == 400


def test_an_artist_downloads_the_statement_of_their_own_payout_only(paid_run, client, artist, other_artist):
    payout = Payout.objects.filter(artist=artist).order_by("-id").first()
    client.force_login(artist)
    response = client.get(f"/payouts/{payout.pk}/statement.pdf")
    assert response.status_code == 200
    text = " ".join(pdf_text(response.content).split())
    assert f"Statement for payout #{payout.pk}" in text and "€10.00" in text and payout.stripe_transfer_id in text
    assert "Feedback bounty" in text and "Main Program" in text and "Payer" in text and "Payee" in text
    client.force_login(other_artist)
    assert client.get(f"/payouts/{payout.pk}/statement.pdf").status_code == 404
    assert client.get(f"/payouts/{payout.pk}/statement/").status_code == 404
    assert client.get("/payouts/999999999999999999/statement.pdf").status_code == 404
    assert ledger_unpaid(artist) == 0


def _statement_lines(client, payout) -> tuple[list[tuple[str, int]], int]:
    import re

    page = client.get(f"/payouts/{payout.pk}/statement/").content.decode()
    lines = re.findall(r'class="statement-line" data-entry="(\d+)" data-amount="(-?\d+)"', page)
    total = int(re.search(r'data-total="(-?\d+)"', page).group(1))
    return [(LedgerEntry.objects.get(pk=pk).kind, int(amount)) for pk, amount in lines], total


def test_a_statement_lists_the_lines_its_payout_pays_and_they_add_up(paid_run, client, artist, other_artist):
    client.force_login(artist)
    first, second = Payout.objects.filter(artist=artist).order_by("id")
    lines, total = _statement_lines(client, first)
    assert sorted(lines) == [("feedback_bounty", 1000), ("feedback_bounty", 2500)] and total == 3500
    # The second payout lists only what was earned since: the first one settled the rest.
    lines, total = _statement_lines(client, second)
    assert lines == [("feedback_bounty", 1000)] and total == second.amount_minor == 1000
    page = client.get(f"/payouts/{second.pk}/statement/").content.decode()
    for text in (
        "Payer",
        "Atelier, for Main Program",
        "Payee",
        "alice@example.test",
        "Period",
        "EUR",
        "€10.00 each (rate card v1)",
    ):
        assert text in page
    assert "(minor" not in page


def test_after_a_reversal_the_next_statement_lists_the_earnings_again_and_adds_up(
    stripe_server, client, program, artist, moderator
):
    from tests.finance.helpers import prepare_and_approve
    from tests.payments.stripe_server import deliver_all
    from tests.payments.test_payout_runs import onboard_over_api

    make_rate_card(program, bounty_high_minor=2500, bounty_medium_minor=1000)
    onboard_over_api(stripe_server, client, artist)
    accept_labour(artist, program, moderator, severity="high")
    first = prepare_and_approve(program=program)
    payout_run_execute(run_id=first.pk)
    stripe_server.reverse_transfer(first.payouts.get().stripe_transfer_id)
    deliver_all(client, stripe_server.events(types=("transfer.created", "transfer.reversed")))
    accept_labour(artist, program, moderator, severity="medium")
    second = prepare_and_approve(program=program)
    payout_run_execute(run_id=second.pk)
    payout = second.payouts.get()
    assert payout.amount_minor == 3500
    client.force_login(artist)
    lines, total = _statement_lines(client, payout)
    assert sorted(lines) == [("feedback_bounty", 1000), ("feedback_bounty", 2500)] and total == 3500
