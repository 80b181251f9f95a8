from django.urls import path, register_converter

from tester_platform.labour import views


class IdConverter:
    """A primary key: at most 18 digits, so a huge number is a 404, never a database overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(IdConverter, "labour_id")

app_name = "labour"

urlpatterns = [
    path("earnings/", views.earnings, name="earnings"),
    path("earnings.csv", views.earnings_csv, name="earnings_csv"),
    path("feedback/", views.feedback_list, name="feedback_list"),
    path("feedback/new/", views.feedback_new, name="feedback_new"),
    path("feedback/<labour_id:report_id>/", views.feedback_detail, name="feedback_detail"),
    path("time/", views.time_list, name="time_list"),
    path("time/new/", views.time_new, name="time_new"),
    path("time/<labour_id:entry_id>/", views.time_detail, name="time_detail"),
]
