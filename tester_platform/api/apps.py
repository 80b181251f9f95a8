from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tester_platform.api"
    label = "api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tester_platform.api import schema  # noqa: F401  (registers the OpenAPI auth scheme)
        from tester_platform.pagecache import declare, pages

        # Which cached pages a write to each model changes (tester_platform/pagecache.py).
        declare(
            {
                "api.ApiToken": pages("user"),
            }
        )
