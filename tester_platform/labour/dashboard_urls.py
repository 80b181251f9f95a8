from django.urls import path

import tester_platform.converters  # noqa: F401  (registers <id:…>)
from tester_platform.labour import dashboard, task_views

app_name = "labour_review"

urlpatterns = [
    path("", dashboard.queue, name="queue"),
    path("feedback/<id:report_id>/review/", dashboard.feedback_decide, name="feedback_review"),
    path("feedback/<id:report_id>/acted-on/", dashboard.acted_on, name="acted_on"),
    path("feedback/<id:report_id>/rerate/", dashboard.rerate, name="feedback_rerate"),
    path("time/<id:entry_id>/review/", dashboard.time_decide, name="time_review"),
    path("bulk-accept/", dashboard.bulk, name="bulk_accept"),
    path("assignments/", task_views.review_queue, name="assignments"),
    path("assignments/<id:assignment_id>/review/", task_views.review, name="assignment_review"),
]
