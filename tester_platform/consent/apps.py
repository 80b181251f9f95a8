from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "tester_platform.consent"
    label = "consent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tester_platform.pagecache import PROGRAMS, declare, pages

        # Which cached pages a write to each model changes (tester_platform/pagecache.py).
        declare(
            {
                "consent.ConsentDocument": pages(shared=(PROGRAMS,)),
                "consent.ConsentRecord": pages("artist"),
            }
        )
