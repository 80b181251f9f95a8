"""A program manager runs a program from the staff console, in Chromium: invites testers
from a pasted list, suspends one with a reason (which the artist then reads), publishes a
new rate card and pulls the kill switch."""

import re

import pytest

from generation.models import GenerationJob
from payments.selectors import current_rate_card
from tester_platform.accounts.roles import PROGRAM_MANAGER
from tester_platform.audit.models import AuditEvent
from tester_platform.programs.models import Enrollment, Invitation, Program, ProgramStaff
from tests.browser.conftest import sign_in, sign_out
from tests.factories import ConsentDocumentFactory, ProgramFactory, UserFactory, add_staff, enroll, make_artist, sign
from tests.labour.helpers import make_job, make_rate_card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASON = "Posted outputs publicly before approval; we will talk on Monday."


def _world():
    program = ProgramFactory(slug="aurora", name="Aurora Early Access")
    ConsentDocumentFactory(program=program)
    make_rate_card(program)  # v1: €25.00 an hour
    manager = UserFactory(email="maya@example.test", display_name="Maya", roles=[PROGRAM_MANAGER])
    add_staff(manager, program, ProgramStaff.Role.MANAGER)
    lena, bo = make_artist(email="lena@example.test", display_name="Lena"), make_artist(email="bo@example.test")
    for artist in (lena, bo):
        enroll(artist, program)
        sign(artist, program)
    queued = make_job(bo, program, status=GenerationJob.Status.QUEUED)
    return program, queued


def test_a_manager_invites_suspends_publishes_a_rate_card_and_pauses(live_server, page, browser, shot):
    program, queued = _world()
    sign_in(page, live_server, "maya@example.test")
    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_role("link", name="Open the staff console").click()
    page.wait_for_url("**/dashboard/console/")
    page.get_by_role("link", name="Aurora Early Access").click()
    page.wait_for_url("**/dashboard/console/aurora/")
    assert page.get_by_role("heading", name=re.compile("Aurora Early Access")).is_visible()
    shot(page, "console-1-settings")

    # Three artists from a pasted list: a line, a comma and a semicolon.
    page.get_by_role("link", name="Invitations").click()
    page.get_by_label("Email addresses").fill("ana@example.test, ben@example.test\ncleo@example.test;")
    page.get_by_role("button", name="Send invitations").click()
    page.wait_for_url("**/dashboard/console/aurora/invitations/")
    assert "3 invitations sent." in page.locator(".messages").inner_text()
    assert page.locator("#invitations tbody tr[data-state=open]").count() == 3
    assert sorted(Invitation.objects.values_list("email", flat=True)) == [
        "ana@example.test",
        "ben@example.test",
        "cleo@example.test",
    ]
    shot(page, "console-2-invitations")

    # Suspend one artist, with the reason they will read.
    page.get_by_role("link", name="Testers").click()
    page.get_by_label("Reason for suspending lena@example.test (they see it)").fill(REASON)
    page.locator("#enrollments [data-email='lena@example.test']").get_by_role("button", name="Suspend").click()
    page.wait_for_url("**/dashboard/console/aurora/enrollments/")
    row = page.locator("#enrollments [data-email='lena@example.test']")
    assert row.get_attribute("data-status") == "suspended" and REASON in row.inner_text()
    shot(page, "console-3-suspended")

    # A new rate card: drafted in money, checked, published.
    page.get_by_role("link", name="Rate cards").click()
    assert "€25.00 an hour" in page.locator("#current-card").inner_text()
    page.get_by_label("Hourly rate for accepted testing time").fill("30.00")
    page.get_by_label("Guaranteed minimum per hour").fill("15")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/dashboard/console/aurora/rate-cards/")
    assert "€30.00 an hour" in page.locator("#draft-card").inner_text()
    shot(page, "console-4-rate-card-draft")
    page.get_by_role("button", name="Publish version 2").click()
    page.wait_for_url("**/dashboard/console/aurora/rate-cards/")
    assert "€30.00 an hour" in page.locator("#current-card").inner_text()
    assert "€15.00 an hour" in page.locator("#current-card").inner_text()
    card = current_rate_card(program_id=program.pk)
    assert (card.version, card.hourly_rate_minor, card.pay_floor_hourly_minor) == (2, 3000, 1500)
    shot(page, "console-5-rate-card-published")

    # The kill switch: Bo's queued job is cancelled, and the pause is in the audit trail.
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Why (kept in the audit trail)").fill("Leaked access under investigation")
    page.get_by_role("button", name="Pause the program").click()
    page.wait_for_url("**/dashboard/console/aurora/")
    assert page.locator("#program-status").inner_text() == "Paused"
    assert Program.objects.get(pk=program.pk).status == "paused"
    queued.refresh_from_db()
    assert queued.status == GenerationJob.Status.CANCELLED
    shot(page, "console-6-paused")
    page.get_by_role("link", name="Audit trail").click()
    paused = page.locator("#audit tr[data-action='program.paused']")
    assert "Leaked access under investigation" in paused.inner_text() and str(queued.pk) in paused.inner_text()
    assert AuditEvent.objects.get(action="program.paused").data["cancelled_jobs"] == [queued.pk]
    shot(page, "console-7-audit")
    assert page.console_errors == []

    # The console on a phone (390 px wide).
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    mobile = phone.new_page()
    sign_in(mobile, live_server, "maya@example.test")
    mobile.goto(f"{live_server.url}/dashboard/console/aurora/enrollments/")
    assert mobile.get_by_role("heading", name="Testers").is_visible()
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    shot(mobile, "console-8-phone")
    phone.close()
    sign_out(page)

    # Lena reads the reason on her dashboard and in everything recorded about her.
    sign_in(page, live_server, "lena@example.test")
    card = page.locator("[data-program=aurora]")
    assert f"Suspended: {REASON}" in card.inner_text()
    shot(page, "console-9-artist-dashboard")
    page.goto(f"{live_server.url}/me/activity/")
    assert f"Reason: {REASON}" in page.locator("table").inner_text()
    shot(page, "console-10-artist-activity")
    assert Enrollment.objects.get(artist__email="lena@example.test").suspended_reason == REASON
    assert page.console_errors == []


def test_console_pages_have_no_serious_accessibility_violations(live_server, browser):
    from axe_playwright_python.sync_playwright import Axe

    from tester_platform.programs.models import Application

    program, _ = _world()
    applicant = make_artist(email="cy@example.test")
    Application.objects.create(program=program, artist=applicant, portfolio_url="https://cy.example", statement="Hi")
    ConsentDocumentFactory(program=program, version=2, published_at=None, title="Draft agreement")
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server, "maya@example.test")
    found = {}
    for path in [
        "",
        "aurora/",
        "aurora/invitations/",
        "aurora/applications/",
        "aurora/enrollments/",
        "aurora/rate-cards/",
        "aurora/consent/",
        "aurora/staff/",
        "aurora/audit/",
    ]:
        page.goto(f"{live_server.url}/dashboard/console/{path}")
        results = Axe().run(page)
        assert len(results.response["passes"]) > 10
        found[path or "index"] = [
            (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
    context.close()
    assert not {k: v for k, v in found.items() if v}, found
