from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "tester_platform.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tester_platform.pagecache import PROGRAMS, declare, no_pages, pages

        # Which cached pages a write to each model changes (tester_platform/pagecache.py).
        declare({
            "access.AccessPolicy": pages(shared=(PROGRAMS,)),
            "access.TokenActivity": no_pages("per-minute API counters, written on every API call; read by the anomaly scan"),
            "access.AccessFlag": pages("artist", others=("reviewed_by",)),
        })
