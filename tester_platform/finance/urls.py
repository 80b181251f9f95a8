from django.urls import path

import tester_platform.converters  # noqa: F401  (registers <id:…>)
from tester_platform.finance import views

app_name = "finance"

urlpatterns = [
    # finance (role finance or admin)
    path("finance/", views.home, name="home"),
    path("finance/runs/new/", views.run_create, name="run_create"),
    path("finance/runs/<id:run_id>/", views.run_detail, name="run_detail"),
    path("finance/runs/<id:run_id>/approve/", views.run_approve, name="run_approve"),
    path("finance/runs/<id:run_id>/discard/", views.run_discard, name="run_discard"),
    path("finance/runs/<id:run_id>/execute/", views.run_execute, name="run_execute"),
    path("finance/reconciliation/", views.reconciliation, name="reconciliation"),
    path("finance/reconciliation/run/", views.reconciliation_run_view, name="reconciliation_run"),
    path("finance/reports/", views.period_report, name="period_report"),
    path("finance/reports/runs/<id:run_id>/", views.run_report, name="run_report"),
    path("reports/payouts/<id:run_id>.csv", views.run_report_csv, name="run_report_csv"),
    path("reports/payouts/<id:run_id>.pdf", views.run_report_pdf, name="run_report_pdf"),
    path("reports/payouts/period.csv", views.period_report_csv, name="period_report_csv"),
    path("reports/payouts/period.pdf", views.period_report_pdf, name="period_report_pdf"),
    # the artist's payouts
    path("payouts/", views.payouts_page, name="payouts"),
    path("payouts/connect/", views.payout_connect, name="payout_connect"),
    path("payouts/connect/refresh/", views.payout_refresh, name="payout_refresh"),
    path("payouts/connect/return/", views.payout_return, name="payout_return"),
    path("payouts/<id:payout_id>/statement/", views.statement, name="statement"),
    path("payouts/<id:payout_id>/statement.pdf", views.statement_pdf, name="statement_pdf"),
    # Stripe
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
    path("webhooks/stripe/connect/", views.stripe_connect_webhook, name="stripe_connect_webhook"),
]
