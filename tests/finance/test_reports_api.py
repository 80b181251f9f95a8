"""Statements and reports through API v1 with a bearer token of the right scope: an
artist's own statement with `read`, the finance reports with `finance`; the links the API
hands out are absolute and lead to these operations (not to a sign-in page)."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from payments.models import Payout
from tester_platform.api.services import token_create
from tests.finance.test_reports import paid_run, pdf_text  # noqa: F401  (a fixture, shared)

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def bearer(user, scopes, **headers) -> APIClient:
    # Staff tokens need the second factor passed: the token service is told so, as the
    # token endpoint does after checking the OTP (tests/access/test_one_door.py).
    _, raw = token_create(user=user, scopes=scopes, second_factor=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", **headers)
    return client


def _problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


def test_an_artist_reads_their_statement_with_a_read_token(paid_run, artist, other_artist):  # noqa: F811
    payout = Payout.objects.filter(artist=artist).order_by("-id").first()
    listed = bearer(artist, ["read"]).get("/api/v1/payouts/").json()["results"]
    link = next(row["statement_url"] for row in listed if row["id"] == payout.pk)
    assert link == f"http://testserver/api/v1/payouts/{payout.pk}/statement/"
    response = bearer(artist, ["read"], HTTP_ACCEPT="application/pdf").get(link)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f"Statement for payout #{payout.pk}" in " ".join(pdf_text(response.content).split())
    # another artist's statement does not exist for them; a token without `read` is refused
    assert _problem(bearer(other_artist, ["read"]).get(link), 404)["code"] == "not_found"
    assert _problem(bearer(artist, ["generate"]).get(link), 403)["code"] == "permission_denied"


def test_finance_reads_the_run_reports_with_a_finance_token(paid_run, finance_user, artist):  # noqa: F811
    run = bearer(finance_user, ["read"]).get(f"/api/v1/payout-runs/{paid_run.pk}/").json()
    assert run["report_csv"] == f"http://testserver/api/v1/payout-runs/{paid_run.pk}/report/csv/"
    assert run["report_pdf"] == f"http://testserver/api/v1/payout-runs/{paid_run.pk}/report/pdf/"
    finance = bearer(finance_user, ["read", "finance"])
    response = finance.get(run["report_csv"], HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert (
        sum(int(r["amount_minor"]) for r in rows if r["section"] == "by_artist")
        == paid_run.payouts.aggregate(total=__import__("django.db.models", fromlist=["Sum"]).Sum("amount_minor"))[
            "total"
        ]
    )
    pdf = finance.get(run["report_pdf"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "Payout run" in pdf_text(pdf.content)
    # the reports name every artist paid: `read` alone is not enough, and artists are refused
    assert "finance" in _problem(bearer(finance_user, ["read"]).get(run["report_csv"]), 403)["detail"]
    assert _problem(bearer(artist, ["read", "finance"]).get(run["report_csv"]), 403)["code"] == "permission_denied"
    assert _problem(finance.get("/api/v1/payout-runs/999999/report/csv/"), 404)["code"] == "not_found"


def test_finance_reads_a_period_report_and_a_bad_period_is_a_400(paid_run, finance_user):  # noqa: F811
    finance = bearer(finance_user, ["read", "finance"])
    today = timezone.localdate().isoformat()
    response = finance.get(f"/api/v1/payout-runs/period-report/csv/?start={today}&end={today}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert any(r["section"] == "by_kind" for r in csv.DictReader(io.StringIO(response.content.decode())))
    pdf = finance.get(f"/api/v1/payout-runs/period-report/pdf/?start={today}&end={today}")
    assert pdf.status_code == 200 and "Payouts by period" in pdf_text(pdf.content)
    backwards = finance.get("/api/v1/payout-runs/period-report/csv/?start=2026-01-02&end=2026-01-01")
    assert "end" in _problem(backwards, 400)["errors"]
    assert "start" in _problem(finance.get("/api/v1/payout-runs/period-report/csv/?end=2026-01-01"), 400)["errors"]
