from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "tester_platform.studio"
    label = "studio"
