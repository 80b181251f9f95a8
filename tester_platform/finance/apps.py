from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "tester_platform.finance"
    label = "finance"
    default_auto_field = "django.db.models.BigAutoField"
