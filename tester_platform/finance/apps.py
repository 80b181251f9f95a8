from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "tester_platform.finance"
    label = "finance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from payments.signals import payouts_updated
        from tester_platform.pagecache import PROGRAMS, declare, no_pages, on_engine_write, pages

        # The payments engine may not import the product: finance, which shows its rows,
        # declares them (tester_platform/pagecache.py) and listens to the signal the engine
        # sends for the bulk writes Django never reports.
        declare(
            {
                "payments.RateCard": pages(shared=(PROGRAMS,)),
                "payments.LedgerEntry": pages("artist", others=("created_by",)),
                "payments.ConnectedAccount": pages("artist"),
                "payments.PayoutRun": no_pages(
                    "a run is shown to finance staff on console pages, which are not cached"
                ),
                "payments.PayoutRunAttempt": no_pages("a run's execution log, on the finance console only"),
                "payments.Payout": pages("artist"),
                "payments.PayoutLine": pages("payout__artist"),
                "payments.WebhookEvent": no_pages(
                    "Stripe's event inbox; its effects are written to payouts and ledger"
                ),
                "payments.Reconciliation": no_pages("finance's daily check against Stripe, on the console only"),
            }
        )
        payouts_updated.connect(on_engine_write, dispatch_uid="pagecache.payouts_updated")
