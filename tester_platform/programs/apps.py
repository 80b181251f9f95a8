from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "tester_platform.programs"
    label = "programs"
    default_auto_field = "django.db.models.BigAutoField"
