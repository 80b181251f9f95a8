from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tester_platform.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tester_platform.pagecache import THIRD_PARTY, declare, pages

        # Which cached pages a write to each model changes (tester_platform/pagecache.py).
        declare(
            {
                "accounts.User": pages("pk"),
                **THIRD_PARTY,  # the installed apps' models, declared here beside the user model and roles
            }
        )
