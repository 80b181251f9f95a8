import re

import pytest

from payments.models import LedgerEntry
from tester_platform.labour.models import FeedbackReport
from tester_platform.programs.models import ProgramStaff
from tests.browser.conftest import sign_in, sign_out
from tests.factories import (
    ConsentDocumentFactory,
    ProgramFactory,
    UserFactory,
    add_staff,
    enroll,
    make_artist,
    sign,
)
from tests.labour.helpers import make_rate_card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_report_is_filed_accepted_and_paid_on_the_earnings_page(live_server, page, shot):
    from tester_platform.accounts.roles import MODERATOR

    program = ProgramFactory(slug="labour", name="Labour Program")
    ConsentDocumentFactory(program=program)
    make_rate_card(program, bounty_high_minor=2500)
    artist = make_artist(email="lena@example.test", display_name="Lena")
    enroll(artist, program)
    sign(artist, program)
    moderator = UserFactory(email="moe@example.test", display_name="Moe", roles=[MODERATOR])
    add_staff(moderator, program, ProgramStaff.Role.MODERATOR)

    # The artist files a report.
    sign_in(page, live_server, "lena@example.test")
    page.goto(f"{live_server.url}/labour/feedback/new/")
    page.get_by_label("Category").select_option("bug")
    page.get_by_label("Severity").select_option("high")
    page.get_by_label("Title").fill("Hands merge with props")
    page.get_by_label("What happened").fill("Prompt: a juggler with five balls. From frame 4 the hands melt.")
    shot(page, "labour-1-file-report")
    page.get_by_role("button", name="Submit report").click()
    page.wait_for_url(re.compile(r".*/labour/feedback/\d+/$"))
    assert page.locator("#report-status").inner_text().strip() == "Waiting for review"
    report = FeedbackReport.objects.get()
    sign_out(page)

    # A moderator accepts it inline in the review queue (htmx).
    sign_in(page, live_server, "moe@example.test")
    page.goto(f"{live_server.url}/dashboard/labour/")
    row = page.locator(f"#feedback-{report.pk}")
    assert "Hands merge with props" in row.inner_text() and "€25.00" in row.inner_text()
    shot(page, "labour-2-review-queue")
    row.get_by_role("button", name="Accept").click()
    page.locator(f"#feedback-{report.pk}[data-status=accepted]").wait_for()
    assert LedgerEntry.objects.filter(kind="feedback_bounty").count() == 1
    shot(page, "labour-3-accepted")
    sign_out(page)

    # The artist's earnings page shows the new line and balance.
    sign_in(page, live_server, "lena@example.test")
    page.goto(f"{live_server.url}/labour/earnings/")
    assert page.locator("#balance-unpaid").inner_text() == "€25.00"
    assert page.locator("#balance-earned").inner_text() == "€25.00"
    line = page.locator("#ledger tbody tr[data-kind=feedback_bounty]")
    assert line.count() == 1
    assert "Feedback bounty" in line.inner_text() and "€25.00 each (rate card v1)" in line.inner_text()
    assert line.get_by_role("link").get_attribute("href") == f"/labour/feedback/{report.pk}/"
    assert page.locator("#earnings-chart rect").count() == 1
    shot(page, "labour-4-earnings")
    line.get_by_role("link").click()
    page.wait_for_url(f"**/labour/feedback/{report.pk}/")
    assert page.locator("#report-status").inner_text().strip() == "Accepted"
    assert page.console_errors == []
