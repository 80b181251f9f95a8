"""Phones: at 390×844 no page of any role is wider than the screen (screenshots kept in
test-artifacts/screenshots/mobile/), axe finds no serious violation there, and the main
nav collapses behind a Menu button that opens it (a static script; the CSP forbids inline)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from payments.models import ConnectedAccount, Payout, PayoutLine, PayoutRun
from tester_platform.accounts.roles import ADMIN, FINANCE, MODERATOR, PROGRAM_MANAGER
from tester_platform.labour.assignments import assignment_submit, assignment_take
from tester_platform.labour.services import feedback_submit, time_entry_submit
from tester_platform.notifications.services import announcement_publish
from tester_platform.sharing.services import share_request_create, share_request_decide
from tests.browser.conftest import ARTIFACTS, sign_in
from tests.factories import (
    ConsentDocumentFactory,
    ProgramFactory,
    UserFactory,
    add_staff,
    enroll,
    make_artist,
    make_output,
    sign,
)
from tests.labour.evidence_files import png_bytes
from tests.labour.helpers import make_rate_card, publish_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
SHOTS = ARTIFACTS / "mobile"


def _world():
    program = ProgramFactory(slug="phone", name="Phone Program With A Rather Long Name For Narrow Screens")
    ConsentDocumentFactory(program=program)
    make_rate_card(program)
    artist = make_artist(email="phone-artist-with-a-very-long-address@example.test", display_name="Pia")
    enroll(artist, program)
    sign(artist, program)
    moderator = UserFactory(email="phone-mod@example.test", display_name="Mo", roles=[MODERATOR])
    add_staff(moderator, program, "moderator")
    manager = UserFactory(email="phone-manager@example.test", display_name="Max", roles=[PROGRAM_MANAGER])
    add_staff(manager, program, "program_manager")
    UserFactory(email="phone-finance@example.test", roles=[FINANCE])
    UserFactory(email="phone-admin@example.test", roles=[ADMIN], is_staff=True, is_superuser=True)
    job = make_output(artist, program)
    share = share_request_create(
        artist=artist, generation_id=job.pk, caption="A long caption " * 5, destination="press"
    )
    approved = share_request_decide(
        share_request=share_request_create(
            artist=artist, generation_id=make_output(artist, program).pk, caption="Public", destination="portfolio"
        ),
        moderator=moderator,
        decision="approve",
    )
    report = feedback_submit(
        artist=artist,
        program=program,
        category="quality",
        severity="high",
        title="Hands melt " + "x" * 80,
        body="A" * 300,
        attachments=[("a.png", png_bytes())],
    )
    entry = time_entry_submit(
        artist=artist,
        program=program,
        date=timezone.localdate() - dt.timedelta(days=1),
        minutes=90,
        description="Prompt sweep",
    )
    task = publish_task(program, manager, title="Prompt adherence sweep over thirty unusual prompts")
    assignment_submit(assignment=assignment_take(task=task, artist=artist), artist=artist, note="Done")
    announcement_publish(program=program, actor=manager, title="Welcome", body="**Hello** testers")
    account = ConnectedAccount.objects.create(
        artist=artist, stripe_account_id=f"acct_{uuid.uuid4().hex[:12]}", details_submitted=True, payouts_enabled=True
    )
    run = PayoutRun.objects.create(
        program=program, period_end=timezone.localdate(), as_of=timezone.now(), status=PayoutRun.Status.DONE
    )
    payout = Payout.objects.create(
        run=run,
        artist=artist,
        connected_account=account,
        amount_minor=4200,
        currency="EUR",
        status=Payout.Status.SENT,
        idempotency_key=uuid.uuid4().hex,
        stripe_transfer_id=f"tr_{uuid.uuid4().hex[:12]}",
        sent_at=timezone.now(),
    )
    PayoutLine.objects.create(payout=payout, program=program, amount_minor=4200)
    return {
        "program": program,
        "job": job,
        "share": share,
        "approved": approved,
        "report": report,
        "entry": entry,
        "task": task,
        "run": run,
        "payout": payout,
    }


def _pages(w):
    slug = w["program"].slug
    console = f"/dashboard/console/{slug}"
    return {
        "anonymous": [
            ("login", "/accounts/login/"),
            ("signup", "/accounts/signup/"),
            ("public-share", f"/s/{w['approved'].public_slug}/"),
        ],
        "phone-artist-with-a-very-long-address@example.test": [
            ("home", "/"),
            ("inbox", "/inbox/"),
            ("email-settings", "/inbox/settings/"),
            ("studio", "/studio/"),
            ("generation", f"/studio/generations/{w['job'].pk}/"),
            ("sharing", "/sharing/"),
            ("share-request", f"/sharing/{w['share'].pk}/"),
            ("feedback", "/labour/feedback/"),
            ("feedback-new", "/labour/feedback/new/"),
            ("report", f"/labour/feedback/{w['report'].pk}/"),
            ("time", "/labour/time/"),
            ("time-new", "/labour/time/new/"),
            ("time-entry", f"/labour/time/{w['entry'].pk}/"),
            ("earnings", "/labour/earnings/"),
            ("tasks", "/labour/tasks/"),
            ("task", f"/labour/tasks/{w['task'].pk}/"),
            ("payouts", "/payouts/"),
            ("statement", f"/payouts/{w['payout'].pk}/statement/"),
            ("activity", "/me/activity/"),
            ("tokens", "/account/tokens/"),
            ("program", f"/programs/{slug}/"),
            ("consent", f"/programs/{slug}/consent/"),
            ("policy", f"/sharing/policy/{slug}/"),
        ],
        "phone-mod@example.test": [
            ("staff", "/dashboard/"),
            ("share-queue", "/dashboard/sharing/"),
            ("share-review", f"/dashboard/sharing/{w['share'].pk}/"),
            ("figures", "/dashboard/sharing/figures/"),
            ("labour-queue", "/dashboard/labour/"),
            ("assignments", "/dashboard/labour/assignments/"),
            ("report", f"/labour/feedback/{w['report'].pk}/"),
            ("inbox", "/inbox/"),
        ],
        "phone-manager@example.test": [
            ("console", "/dashboard/console/"),
            ("settings", f"{console}/"),
            ("invitations", f"{console}/invitations/"),
            ("applications", f"{console}/applications/"),
            ("testers", f"{console}/enrollments/"),
            ("rate-cards", f"{console}/rate-cards/"),
            ("consent-docs", f"{console}/consent/"),
            ("staff", f"{console}/staff/"),
            ("marketing", f"{console}/marketing/"),
            ("tasks", f"{console}/tasks/"),
            ("announcements", f"{console}/announcements/"),
            ("audit", f"{console}/audit/"),
            ("access-flags", "/dashboard/access/"),
            ("workers", "/dashboard/workers/"),
        ],
        "phone-finance@example.test": [
            ("finance", "/finance/"),
            ("run", f"/finance/runs/{w['run'].pk}/"),
            ("reports", "/finance/reports/"),
            ("run-report", f"/finance/reports/runs/{w['run'].pk}/"),
            ("reconciliation", "/finance/reconciliation/"),
            ("statement", f"/payouts/{w['payout'].pk}/statement/"),
        ],
    }


def _overflow(page) -> dict:
    return page.evaluate("""() => {
        const doc = document.documentElement;
        const wide = [];
        for (const el of document.body.querySelectorAll('*')) {
            const box = el.getBoundingClientRect();
            if (box.width && box.right > 391 && getComputedStyle(el).position !== 'fixed'
                && !el.closest('.table-wrap, .visually-hidden, thead')) {
                wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                          (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''));
            }
            if (wide.length > 5) break;
        }
        return {scroll: Math.max(doc.scrollWidth, document.body.scrollWidth), view: window.innerWidth, wide};
    }""")


def _serious(page):
    results = Axe().run(page)
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_page_of_every_role_fits_a_phone(live_server, browser):
    world = _world()
    SHOTS.mkdir(parents=True, exist_ok=True)
    too_wide, violations, errors = {}, {}, {}
    for person, pages in _pages(world).items():
        context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
        page = context.new_page()
        if person != "anonymous":
            sign_in(page, live_server, person)
        role = person.split("@")[0].replace("phone-", "").split("-")[0]
        for name, path in pages:
            response = page.goto(live_server.url + path)
            if response is None or response.status != 200:
                errors[f"{role} {name}"] = response.status if response else None
                continue
            page.screenshot(path=str(SHOTS / f"{role}-{name}.png"), full_page=True)
            measured = _overflow(page)
            # Against the phone's width itself: a mobile browser widens its layout viewport
            # (innerWidth) to fit content that overflows, so innerWidth alone would hide it.
            if measured["scroll"] > PHONE["width"] or measured["view"] > PHONE["width"]:
                too_wide[f"{role} {name} ({path})"] = measured
            found = _serious(page)
            if found:
                violations[f"{role} {name}"] = found
        context.close()
    assert not errors, errors
    assert not too_wide, too_wide
    assert not violations, violations


def test_the_nav_collapses_behind_a_menu_button_on_a_phone(live_server, browser):
    program = ProgramFactory(slug="menu", name="Menu")
    ConsentDocumentFactory(program=program)
    artist = make_artist(email="menu@example.test")
    enroll(artist, program)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server, "menu@example.test")
    menu = page.get_by_role("button", name="Menu")
    assert menu.is_visible() and menu.get_attribute("aria-expanded") == "false"
    assert not page.locator("#main-nav").get_by_role("link", name="Earnings", exact=True).is_visible()
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true"
    page.locator("#main-nav").get_by_role("link", name="Earnings", exact=True).click()
    page.wait_for_url(f"{live_server.url}/labour/earnings/")
    context.close()
    # On a wide screen the links show and the button does not.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server, "menu@example.test")
    assert not page.get_by_role("button", name="Menu").is_visible()
    assert page.locator("#main-nav").get_by_role("link", name="Earnings", exact=True).is_visible()
    context.close()
