from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "tester_platform.portal"
    label = "portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Every process (web, worker, beat) must bump page versions on its writes.
        from tester_platform import pagecache

        pagecache.connect()
