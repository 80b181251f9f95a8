from django.urls import path, register_converter

from tester_platform.finance import views


class IdConverter:
    """A primary key: at most 18 digits, so a huge number is a 404, never a database overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(IdConverter, "finance_id")

app_name = "finance"

urlpatterns = [
    # finance (role finance or admin)
    path("finance/", views.home, name="home"),
    path("finance/runs/new/", views.run_create, name="run_create"),
    path("finance/runs/<finance_id:run_id>/", views.run_detail, name="run_detail"),
    path("finance/runs/<finance_id:run_id>/execute/", views.run_execute, name="run_execute"),
    path("finance/reports/", views.period_report, name="period_report"),
    path("finance/reports/runs/<finance_id:run_id>/", views.run_report, name="run_report"),
    path("reports/payouts/<finance_id:run_id>.csv", views.run_report_csv, name="run_report_csv"),
    path("reports/payouts/<finance_id:run_id>.pdf", views.run_report_pdf, name="run_report_pdf"),
    path("reports/payouts/period.csv", views.period_report_csv, name="period_report_csv"),
    path("reports/payouts/period.pdf", views.period_report_pdf, name="period_report_pdf"),
    # the artist's payouts
    path("payouts/", views.payouts_page, name="payouts"),
    path("payouts/connect/", views.payout_connect, name="payout_connect"),
    path("payouts/connect/refresh/", views.payout_refresh, name="payout_refresh"),
    path("payouts/connect/return/", views.payout_return, name="payout_return"),
    path("payouts/<finance_id:payout_id>/statement.pdf", views.statement_pdf, name="statement_pdf"),
    # Stripe
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
]
