from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "tester_platform.dashboard"
    label = "dashboard"
