from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "tester_platform.sharing"
    label = "sharing"
    default_auto_field = "django.db.models.BigAutoField"
