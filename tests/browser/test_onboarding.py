import pytest

from tester_platform.consent.models import ConsentRecord
from tester_platform.programs.models import Enrollment
from tester_platform.programs.services import invitation_create
from tests.factories import PASSWORD, ConsentDocumentFactory, ProgramFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_invited_artist_accepts_signs_consent_and_reaches_the_dashboard(live_server, page, shot):
    program = ProgramFactory(
        name="Aurora Early Access",
        slug="aurora",
        description="Test **Aurora**, an unreleased video model. Paid, with consent.",
    )
    ConsentDocumentFactory(program=program, version=1, title="Aurora tester agreement")
    _, token = invitation_create(program=program, email="iris@example.test")

    page.goto(f"{live_server.url}/invite/{token}/")
    assert page.get_by_role("heading", name="You are invited to test Aurora Early Access").is_visible()
    page.get_by_label("Name to credit you by").fill("Iris")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    shot(page, "onboarding-1-invitation")
    page.get_by_role("button", name="Create account and accept").click()

    page.wait_for_url("**/programs/aurora/onboarding/profile/")
    page.get_by_label("Portfolio link").fill("https://iris.example/portfolio")
    shot(page, "onboarding-2-profile")
    page.get_by_role("button", name="Continue").click()

    page.wait_for_url("**/onboarding/consent/")
    assert page.get_by_text("Aurora tester agreement").is_visible()
    page.get_by_label("I agree to take part").check()
    page.get_by_label("used to train future models").check()
    shot(page, "onboarding-3-consent")
    page.get_by_role("button", name="Sign version 1").click()

    page.wait_for_url("**/onboarding/payout/")
    shot(page, "onboarding-4-payout")
    page.get_by_role("button", name="Go to my dashboard").click()

    page.wait_for_url(f"{live_server.url}/")
    card = page.locator("[data-program=aurora]")
    assert "Consent v1 signed" in card.inner_text()
    assert "Training use: allowed" in card.inner_text()
    shot(page, "onboarding-5-dashboard")

    record = ConsentRecord.objects.get(artist__email="iris@example.test")
    assert record.training_use and not record.marketing_use and record.user_agent
    assert Enrollment.objects.get(artist__email="iris@example.test").status == Enrollment.Status.ACTIVE
    assert page.console_errors == []


def test_the_dashboard_is_usable_on_a_phone(live_server, browser, shot):
    from tests.factories import enroll, make_artist, sign

    program = ProgramFactory(slug="mobile", name="Mobile Program")
    ConsentDocumentFactory(program=program)
    artist = make_artist(email="mo@example.test")
    enroll(artist, program)
    sign(artist, program)
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("mo@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")
    width = page.evaluate("document.documentElement.scrollWidth")
    shot(page, "dashboard-mobile")
    assert width <= 375, "the dashboard scrolls sideways on a phone"
    context.close()
