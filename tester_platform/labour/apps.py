from django.apps import AppConfig


class LabourConfig(AppConfig):
    name = "tester_platform.labour"
    label = "labour"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tester_platform.pagecache import declare, no_pages, pages

        # Which cached pages a write to each model changes (tester_platform/pagecache.py).
        declare(
            {
                "labour.FeedbackReport": pages("artist", others=("reviewed_by", "acted_on_by")),
                "labour.FeedbackAttachment": no_pages("shown on its report's own page, which is not cached"),
                "labour.SeverityRerate": no_pages(
                    "staff history of a report; the artist's pay changes through its LedgerEntry"
                ),
                "labour.TimeEntry": pages("artist", others=("reviewed_by",)),
                "labour.PayFloorAssessment": pages("artist"),
                "labour.Task": no_pages(
                    "read by the task pages, not cached; an invitation (Task.invited) still "
                    "retires the invited person's pages, as the user end of the link"
                ),
                "labour.Assignment": pages("artist", others=("reviewed_by",)),
            }
        )
