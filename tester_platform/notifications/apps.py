from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "tester_platform.notifications"
    label = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tester_platform.pagecache import declare, no_pages, pages

        # Which cached pages a write to each model changes (tester_platform/pagecache.py).
        declare(
            {
                "notifications.Notification": pages("user"),
                "notifications.EmailPreference": pages("user"),
                "notifications.Announcement": no_pages("reaches pages as the Notification rows it fans out to"),
            }
        )
