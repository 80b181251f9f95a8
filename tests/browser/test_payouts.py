"""Payouts end to end in chromium, four eyes and the real Connect lifecycle: an artist
connects a payout account on the local Stripe; one finance user prepares a run (a preview,
nothing sent) and cannot approve it; a second finance user approves it and a real Celery
worker creates the transfers; the local Stripe's webhooks reach the live server (the
transfer on the platform endpoint, the account's payout to the bank on the Connect
endpoint), the artist sees the payout "Arrived", reads the statement's lines and downloads
it as a PDF."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest
from django.utils import timezone

from payments.models import Payout, PayoutRun
from tester_platform.accounts.roles import FINANCE, MODERATOR
from tester_platform.programs.models import ProgramStaff
from tests.browser.conftest import sign_in, sign_out, wait_js
from tests.factories import ConsentDocumentFactory, ProgramFactory, UserFactory, add_staff, enroll, make_artist, sign
from tests.finance.helpers import accept_labour
from tests.labour.helpers import make_rate_card
from tests.payments.stripe_server import CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET, local_stripe
from tests.worker import WorkerProcess

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stripe_live(settings, live_server):
    server = local_stripe()
    server.reset(
        webhook_url=f"{live_server.url}/webhooks/stripe/",
        connect_webhook_url=f"{live_server.url}/webhooks/stripe/connect/",
        payout_delay_ms=300,
        arrival_delay_ms=300,
    )
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_WEBHOOK_SECRET
    yield server
    server.reset()


@pytest.fixture
def payout_worker(stripe_live):
    """A real Celery worker, pointed at the same local Stripe: approval enqueues the run."""
    worker = WorkerProcess(
        queues="celery",
        name="payouts",
        extra_env={
            "STRIPE_API_BASE": stripe_live.url,
            "STRIPE_SECRET_KEY": "sk_test_atelier_local",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_WEBHOOK_SECRET,
        },
    )
    worker.wait_ready(timeout=90)
    yield worker
    worker.stop()


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_two_finance_users_pay_an_artist_who_sees_it_arrive_and_downloads_the_statement(
    live_server, page, shot, stripe_live, payout_worker
):
    program = ProgramFactory(slug="payouts", name="Payout Program")
    ConsentDocumentFactory(program=program)
    make_rate_card(program, bounty_high_minor=2500, bounty_medium_minor=1000)
    artist = make_artist(email="pia@example.test", display_name="Pia")
    enroll(artist, program)
    sign(artist, program)
    moderator = UserFactory(email="mo@example.test", roles=[MODERATOR])
    add_staff(moderator, program, ProgramStaff.Role.MODERATOR)
    UserFactory(email="fin@example.test", display_name="Fin", roles=[FINANCE])
    UserFactory(email="fay@example.test", display_name="Fay", roles=[FINANCE])
    accept_labour(artist, program, moderator, severity="high")
    accept_labour(artist, program, moderator, severity="medium")

    # The artist connects a payout account: the local Stripe's onboarding page completes it.
    sign_in(page, live_server, "pia@example.test")
    page.goto(f"{live_server.url}/payouts/")
    shot(page, "payouts-1-artist-not-connected")
    with page.expect_navigation():  # → the local Stripe's onboarding page → back to /payouts/
        page.get_by_role("button", name="Connect your payout account").click()
    page.wait_for_url(f"{live_server.url}/payouts/")
    assert "Payouts are enabled" in page.locator("#payout-account").inner_text()
    shot(page, "payouts-2-artist-connected")
    sign_out(page)

    # Fin prepares a run: a preview with the amounts, nothing sent, and no approve button for her.
    sign_in(page, live_server, "fin@example.test")
    page.goto(f"{live_server.url}/finance/")
    page.get_by_label("Program").select_option(label="Payout Program")
    page.get_by_label("Period ends on").fill(timezone.localdate().isoformat())
    shot(page, "payouts-3-finance-prepares")
    page.get_by_role("button", name="Prepare payout run").click()
    page.wait_for_url(re.compile(r".*/finance/runs/\d+/$"))
    assert page.locator("#run-status").get_attribute("data-status") == "prepared"
    assert "€35.00" in page.locator("#run-preview").inner_text()
    assert "€35.00" in page.locator("#by-artist").inner_text()
    assert page.locator("#four-eyes-note").is_visible() and page.locator("#run-approve").count() == 0
    assert stripe_live.transfers() == []
    run_url = page.url
    shot(page, "payouts-4-preview-awaiting-a-second-finance-user")
    sign_out(page)

    # Fay approves exactly that preview; a worker sends it; Stripe's events reach the app.
    sign_in(page, live_server, "fay@example.test")
    page.goto(run_url)
    with page.expect_navigation():
        page.get_by_role("button", name="Approve and send").click()
    wait_for(lambda: PayoutRun.objects.get().status == "done")
    wait_for(lambda: Payout.objects.get().status == "arrived")  # transfer.created, payout.created … payout.paid
    page.reload()
    assert page.locator("#run-status").get_attribute("data-status") == "done"
    assert page.locator("#attempts tbody tr").count() == 1
    assert "Arrived" in page.locator("#by-artist").inner_text()
    shot(page, "payouts-5-approved-and-sent")
    page.get_by_role("link", name="Open report").click()
    page.wait_for_url(re.compile(r".*/finance/reports/runs/\d+/$"))
    wait_js(page, "document.querySelectorAll('svg.fin-chart-svg rect.fin-bar').length >= 3")
    assert page.locator("#chart-paid-by-program").is_visible()
    assert "€35.00" in page.locator("#by-artist").inner_text()
    shot(page, "payouts-6-finance-report-with-charts")
    with page.expect_download() as csv_download:
        page.locator("#download-csv").click()
    assert "by_artist" in Path(csv_download.value.path()).read_text()
    assert page.console_errors == []
    sign_out(page)

    # The artist sees the payout arrived, reads the statement's lines and downloads it.
    sign_in(page, live_server, "pia@example.test")
    page.goto(f"{live_server.url}/payouts/")
    row = page.locator("#payouts tbody tr").first
    assert "€35.00" in row.inner_text() and row.locator(".payout-status").inner_text().strip() == "Arrived"
    shot(page, "payouts-7-artist-sees-it-arrived")
    row.get_by_role("link", name="Statement", exact=True).click()
    page.wait_for_url(re.compile(r".*/payouts/\d+/statement/$"))
    lines = page.locator(".statement-line")
    assert lines.count() == 2
    amounts = [int(lines.nth(i).get_attribute("data-amount")) for i in range(lines.count())]
    assert sorted(amounts) == [1000, 2500] and sum(amounts) == 3500
    assert page.locator("#statement-total [data-total]").inner_text() == "€35.00"
    assert "Feedback bounty" in page.locator(".statement-lines").first.inner_text()
    shot(page, "payouts-8-artist-reads-the-statement")
    with page.expect_download() as download:
        page.locator("#statement-pdf").click()
    from pypdf import PdfReader

    text = " ".join(PdfReader(io.BytesIO(Path(download.value.path()).read_bytes())).pages[0].extract_text().split())
    assert "Atelier payout statement" in text and "€35.00" in text and "Feedback bounty" in text
    assert page.console_errors == []
