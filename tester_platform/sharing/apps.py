from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "tester_platform.sharing"
    label = "sharing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tester_platform.pagecache import PROGRAMS, SHARING, declare, pages

        # Which cached pages a write to each model changes (tester_platform/pagecache.py).
        declare(
            {
                "sharing.RejectionReason": pages(shared=(PROGRAMS, SHARING)),
                "sharing.ReviewStep": pages(shared=(PROGRAMS, SHARING)),
                "sharing.ShareRequest": pages("artist", shared=(SHARING,), others=("decided_by", "appeal_decided_by")),
                "sharing.ShareEvent": pages("share_request__artist", shared=(SHARING,), others=("actor",)),
            }
        )
