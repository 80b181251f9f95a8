from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tester_platform.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
