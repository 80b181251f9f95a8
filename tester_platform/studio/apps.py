from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "tester_platform.studio"
    label = "studio"

    def ready(self):
        from generation.signals import jobs_updated
        from tester_platform.pagecache import declare, no_pages, on_engine_write, pages

        # The generation engine may not import the product: the studio, which shows its
        # rows, declares them (tester_platform/pagecache.py) and listens to the signal the
        # engine sends for the bulk updates Django never reports.
        declare(
            {
                "generation.Worker": no_pages("GPU worker heartbeats, shown on the staff health page only"),
                "generation.BudgetAccount": pages("artist"),
                "generation.InputImage": pages("artist"),
                "generation.GenerationJob": pages("artist", others=("cancelled_by",)),
                "generation.UsageRecord": pages("artist"),
            }
        )
        jobs_updated.connect(on_engine_write, dispatch_uid="pagecache.jobs_updated")
