"""Finance API and pages: who may do what, clear 4xx for bad input with nothing written,
the onboarding step, the artist's payouts page, and /metrics families."""

from __future__ import annotations

import pytest
from django.utils import timezone

from payments.models import Payout, PayoutRun
from tester_platform.api.services import token_create
from tests.conftest import api_as
from tests.finance.helpers import enabled_account, make_owed, rows, yesterday
from tests.labour.helpers import make_rate_card

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "body,field",
    [
        ({"period_end": "not-a-date"}, "period_end"),
        ({"period_end": "2999-01-01"}, "period_end"),
        ({"period_end": "2025-01-01", "program": 999999}, "program"),
        ({"period_end": "2025-01-01", "program": "x"}, "program"),
        ({"period_end": "2025-01-01", "program": 10**30}, "program"),
    ],
)
def test_bad_payout_run_input_is_a_clear_400_and_nothing_is_written(finance_user, program, body, field):
    before = rows()
    response = api_as(finance_user).post("/api/v1/payout-runs/", body, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert rows() == before


def test_only_finance_and_admins_prepare_payout_runs(artist, moderator, manager, finance_user, admin_user, program):
    make_owed(artist, program)
    today = timezone.localdate().isoformat()
    for person, status in ((artist, 403), (moderator, 403), (manager, 403), (finance_user, 201), (admin_user, 201)):
        response = api_as(person).post("/api/v1/payout-runs/", {"period_end": today}, format="json")
        assert response.status_code == status, person
        if status == 201:
            assert response.json()["status"] == "prepared" and response.json()["total"] == {"EUR": 4200}
            discarded = api_as(person).post(f"/api/v1/payout-runs/{response.json()['id']}/discard/")
            assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
    assert api_as(None).post("/api/v1/payout-runs/", {}, format="json").status_code == 401
    assert api_as(finance_user).get("/api/v1/payout-runs/99999999999999999999/").status_code == 404
    assert api_as(finance_user).get("/api/v1/payout-runs/").json()["count"] == 2
    assert set(Payout.objects.values_list("status", flat=True)) == {"discarded"}


def test_a_run_with_nothing_to_pay_is_refused_and_the_default_period_is_the_last_closed_one(
    finance_user, artist, program
):
    from tester_platform.finance.services import closed_period_end

    make_owed(artist, program)  # owed today: after the last closed period
    before = rows()
    response = api_as(finance_user).post("/api/v1/payout-runs/", {}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "nothing_to_pay"
    assert f"{closed_period_end():%d %b %Y}" in response.json()["detail"]
    assert rows() == before
    today = timezone.localdate()
    assert closed_period_end(today).weekday() == 6 and 1 <= (today - closed_period_end(today)).days <= 7


def test_approval_is_enqueued_after_commit_and_the_preparer_cannot_approve(
    finance_user, admin_user, program, artist, django_capture_on_commit_callbacks, monkeypatch
):
    from tester_platform.finance import tasks

    make_owed(artist, program)
    sent = []
    monkeypatch.setattr(tasks.payout_run_execute_task, "delay", lambda run_id, trigger: sent.append((run_id, trigger)))
    with django_capture_on_commit_callbacks(execute=True):
        run = (
            api_as(finance_user)
            .post("/api/v1/payout-runs/", {"period_end": timezone.localdate().isoformat()}, format="json")
            .json()
        )
    assert sent == []  # preparing sends nothing
    with django_capture_on_commit_callbacks(execute=True):
        refused = api_as(finance_user).post(f"/api/v1/payout-runs/{run['id']}/approve/", {}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "four_eyes" and sent == []
    stale = api_as(admin_user).post(f"/api/v1/payout-runs/{run['id']}/approve/", {"digest": "0" * 32}, format="json")
    assert stale.status_code == 409 and sent == []
    with django_capture_on_commit_callbacks(execute=True):
        approved = api_as(admin_user).post(
            f"/api/v1/payout-runs/{run['id']}/approve/", {"digest": run["preview_digest"]}, format="json"
        )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert sent == [(run["id"], "approval")]
    again = api_as(admin_user).post(f"/api/v1/payout-runs/{run['id']}/approve/", {}, format="json")
    assert again.status_code == 409


def test_payout_account_state_and_the_onboarding_link_needs_a_signed_in_session(artist, stripe_server):
    state = api_as(artist).get("/api/v1/payout-account/").json()
    assert state == {
        "connected": False,
        "stripe_account_id": None,
        "details_submitted": False,
        "payouts_enabled": False,
        "requirements": [],
        "disabled_reason": "",
        "missing": ["Connect a payout account"],
    }
    _, raw = token_create(user=artist, name="cli")
    from rest_framework.test import APIClient

    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = rows()
    assert bearer.post("/api/v1/payout-account/").status_code == 403
    assert rows() == before
    assert bearer.get("/api/v1/payout-account/").status_code == 200
    created = api_as(artist).post("/api/v1/payout-account/")
    assert created.status_code == 201 and created.json()["onboarding_url"].startswith(stripe_server.url)
    state = api_as(artist).get("/api/v1/payout-account/").json()
    assert state["connected"] is True and state["payouts_enabled"] is False
    assert "A bank account for payouts" in state["missing"] and "external_account" in state["requirements"]
    assert state["disabled_reason"] == "requirements.past_due"


def test_staff_cannot_open_a_payout_account(moderator, finance_user):
    before = rows()
    for person in (moderator, finance_user):
        assert api_as(person).post("/api/v1/payout-account/").status_code == 403
    assert rows() == before


def test_payouts_are_the_artists_own(artist, other_artist, program):
    from tests.finance.helpers import matrix_payout

    class W:
        def __init__(self):
            self.program = program

        def user(self, role):
            return artist

    payout = matrix_payout(W())
    assert [p["id"] for p in api_as(artist).get("/api/v1/payouts/").json()["results"]] == [payout.pk]
    assert api_as(other_artist).get("/api/v1/payouts/").json()["results"] == []
    assert api_as(other_artist).get(f"/api/v1/payouts/{payout.pk}/").status_code == 404
    assert api_as(artist).get(f"/api/v1/payouts/{payout.pk}/").json()["amount"] == 1000


def test_the_onboarding_payout_step_connects_and_comes_back(client, artist, program, stripe_server):
    from tester_platform.programs.models import Enrollment

    Enrollment.objects.filter(artist=artist).update(status=Enrollment.Status.ONBOARDING)
    client.force_login(artist)
    page = client.get("/programs/main/onboarding/payout/")
    assert b"Connect your payout account" in page.content
    response = client.post("/programs/main/onboarding/payout/", {"action": "connect"})
    assert response.status_code == 302 and response["Location"].startswith(stripe_server.url + "/_atelier/onboard/")
    back = stripe_server.onboard(response["Location"])
    assert back == "http://testserver/payouts/connect/return/?next=/programs/main/onboarding/payout/"
    after = client.get(back.removeprefix("http://testserver"))
    assert after.status_code == 302 and after["Location"] == "/programs/main/onboarding/payout/"
    page = client.get("/programs/main/onboarding/payout/").content.decode()
    assert "Payouts are enabled" in page
    assert client.post("/programs/main/onboarding/payout/", {"action": "finish"})["Location"] == "/"


def test_the_artist_payouts_page_says_what_is_missing(client, artist):
    enabled_account(artist, enabled=False)
    client.force_login(artist)
    page = client.get("/payouts/").content.decode()
    assert "Payouts are not enabled yet" in page and "A bank account for payouts" in page


def test_finance_pages_need_the_finance_role(client, artist, finance_user, program, moderator):
    make_rate_card(program)
    client.force_login(artist)
    assert client.get("/finance/").status_code == 403
    client.force_login(finance_user)
    assert client.get("/finance/").status_code == 200
    before = rows()
    response = client.post("/finance/runs/new/", {"period_end": "2999-01-01"})
    assert response.status_code == 400 and rows() == before
    response = client.post("/finance/runs/new/", {"period_end": yesterday().isoformat(), "program": program.pk})
    assert response.status_code == 400 and b"No payout run was prepared" in response.content and rows() == before
    make_owed(artist, program)
    response = client.post(
        "/finance/runs/new/", {"period_end": timezone.localdate().isoformat(), "program": program.pk}
    )
    run = PayoutRun.objects.get()
    assert response["Location"] == f"/finance/runs/{run.pk}/"
    home = client.get("/finance/").content.decode()
    assert "€42.00" in home and "(minor" not in home and "4200 EUR" not in home
    assert client.get(f"/finance/runs/{run.pk}/").status_code == 200
    assert client.get("/finance/runs/999999999999999999/").status_code == 404


def test_metrics_count_payouts_and_webhook_events(client, settings, artist, program):
    from payments.models import WebhookEvent
    from tests.finance.helpers import matrix_payout

    class W:
        def __init__(self):
            self.program = program

        def user(self, role):
            return artist

    matrix_payout(W())
    WebhookEvent.objects.create(
        stripe_event_id="evt_1", type="transfer.created", payload={}, status="failed", error="boom"
    )
    settings.METRICS_TOKEN = "t"
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t").content.decode()
    assert 'atelier_payouts{status="sent",currency="EUR"} 1' in body
    assert 'atelier_payout_amount_minor{status="sent",currency="EUR"} 1000' in body
    assert 'atelier_stripe_webhook_events{status="failed"} 1' in body
    assert 'atelier_stripe_webhook_events{status="processed"} 0' in body


def test_one_template_filter_formats_money():
    from django.template import Context, Template

    template = Template(
        "{% load money %}{{ a|money:'EUR' }} {{ b|money:'JPY' }} {{ c|money:'EUR' }} {{ d|money:'USD' }}"
    )
    assert template.render(Context({"a": 4833, "b": 4833, "c": None, "d": -125050})) == "€48.33 4,833 JPY — -$1,250.50"
