"""Small doors: /healthz says which check failed and nothing about why, a GET on Stripe's
refresh URL changes nothing, and the media endpoint needs a token with the read scope."""

from __future__ import annotations

import pytest
from django.test import Client

from payments.models import ConnectedAccount
from tester_platform import health
from tester_platform.api.services import token_create
from tester_platform.celery import app as celery_app
from tester_platform.finance import onboarding as finance_onboarding
from tester_platform.studio.media import signed_media_url
from tests.factories import make_output
from tests.finance.conftest import stripe_server  # noqa: F401  (the local Stripe, for the whole flow)

LEAK = "redis://atelier:hunter2@10.20.30.40:6379/0"


# --- /healthz --------------------------------------------------------------------------------


def test_healthz_names_the_failing_broker_check_but_never_the_exception(client, db, monkeypatch, caplog):
    def refused(*args, **kwargs):
        raise ConnectionRefusedError(f"Error 111 connecting to {LEAK}")

    monkeypatch.setattr(celery_app, "connection_for_write", refused)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "failing", "checks": {"database": "ok", "broker": "failing", "media": "ok"}}
    assert b"hunter2" not in response.content and b"10.20.30.40" not in response.content
    assert "the broker check failed" in caplog.text and LEAK in caplog.text  # the operator still sees why


def test_healthz_names_the_failing_database_check_but_never_the_exception(client, db, monkeypatch, caplog):
    def down():
        raise RuntimeError(f"could not connect to server at {LEAK}")

    monkeypatch.setitem(health.CHECKS, "database", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "failing", "broker": "ok", "media": "ok"}
    assert b"hunter2" not in response.content
    assert "the database check failed" in caplog.text


# --- Stripe's refresh URL ------------------------------------------------------------------------


@pytest.fixture
def connect_calls(monkeypatch):
    calls = []

    def connect(*, artist, refresh_url, return_url):
        calls.append({"artist": artist, "refresh_url": refresh_url, "return_url": return_url})
        return None, "https://connect.stripe.com/setup/e/acct_test/fresh-link"

    monkeypatch.setattr(finance_onboarding, "payout_account_connect", connect)
    return calls


def test_a_get_on_the_stripe_refresh_url_changes_nothing(client, artist, connect_calls):
    client.force_login(artist)
    page = client.get("/payouts/connect/refresh/?next=/payouts/")
    assert page.status_code == 200
    assert connect_calls == [] and not ConnectedAccount.objects.exists()  # no account, no link made
    html = page.content.decode()
    assert 'method="post" action="/payouts/connect/refresh/"' in html
    assert 'name="next" value="/payouts/"' in html
    assert "https://connect.stripe.com" in page["Content-Security-Policy"]  # the POST may redirect to Stripe


def test_the_refresh_pages_button_posts_and_makes_a_fresh_link(client, artist, connect_calls):
    client.force_login(artist)
    response = client.post("/payouts/connect/refresh/", {"next": "/payouts/"})
    assert response.status_code == 302
    assert response["Location"] == "https://connect.stripe.com/setup/e/acct_test/fresh-link"
    assert len(connect_calls) == 1 and connect_calls[0]["artist"] == artist
    assert connect_calls[0]["refresh_url"].endswith("/payouts/connect/refresh/?next=%2Fpayouts%2F")


def test_the_refresh_url_refuses_other_methods(client, artist, connect_calls):
    client.force_login(artist)
    assert client.put("/payouts/connect/refresh/").status_code == 405
    assert connect_calls == []


def test_an_expired_link_comes_back_through_the_page_and_the_button_to_a_fresh_one(client, artist, stripe_server):
    """The whole flow on the local Stripe: a used link sends the browser to refresh_url."""
    client.force_login(artist)
    first = client.post("/payouts/connect/", {"next": "/payouts/"})["Location"]
    stripe_server.onboard(first)
    refresh_url = stripe_server.onboard(first)  # used once already: Stripe sends it to refresh_url
    assert refresh_url == "http://testserver/payouts/connect/refresh/?next=/payouts/"
    accounts = list(ConnectedAccount.objects.values_list("stripe_account_id", "updated_at"))
    page = client.get(refresh_url)
    assert page.status_code == 200 and b"continue-on-stripe" in page.content
    assert list(ConnectedAccount.objects.values_list("stripe_account_id", "updated_at")) == accounts
    fresh = client.post("/payouts/connect/refresh/", {"next": "/payouts/"})["Location"]
    assert fresh.startswith(stripe_server.url + "/_atelier/onboard/") and fresh != first
    assert stripe_server.onboard(fresh) == "http://testserver/payouts/connect/return/?next=/payouts/"


# --- media ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scopes, status", [(["generate"], 404), (["share", "labour"], 404), (["read"], 200)])
def test_media_needs_a_token_with_the_read_scope(artist, program, scopes, status):
    job = make_output(artist, program)
    url = signed_media_url(job=job, kind="video", user=artist)
    _, raw = token_create(user=artist, name="script", scopes=scopes)
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get(url)
    assert response.status_code == status
