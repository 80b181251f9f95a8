from django.urls import path

from tester_platform.labour import dashboard
from tester_platform.labour.urls import IdConverter  # noqa: F401  (registers labour_id)

app_name = "labour_review"

urlpatterns = [
    path("", dashboard.queue, name="queue"),
    path("feedback/<labour_id:report_id>/review/", dashboard.feedback_decide, name="feedback_review"),
    path("feedback/<labour_id:report_id>/acted-on/", dashboard.acted_on, name="acted_on"),
    path("time/<labour_id:entry_id>/review/", dashboard.time_decide, name="time_review"),
    path("bulk-accept/", dashboard.bulk, name="bulk_accept"),
]
