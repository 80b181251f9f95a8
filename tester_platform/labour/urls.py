from django.urls import path

import tester_platform.converters  # noqa: F401  (registers <id:…>)
from tester_platform.labour import task_views, views

app_name = "labour"

urlpatterns = [
    path("earnings/", views.earnings, name="earnings"),
    path("earnings.csv", views.earnings_csv, name="earnings_csv"),
    path("feedback/", views.feedback_list, name="feedback_list"),
    path("feedback/new/", views.feedback_new, name="feedback_new"),
    path("feedback/<id:report_id>/", views.feedback_detail, name="feedback_detail"),
    path("feedback/attachments/<id:attachment_id>/", views.attachment, name="attachment"),
    path("tasks/", task_views.tasks, name="tasks"),
    path("tasks/<id:task_id>/", task_views.task_detail, name="task_detail"),
    path("tasks/<id:task_id>/take/", task_views.task_take, name="task_take"),
    path("tasks/<id:task_id>/submit/", task_views.assignment_submit_view, name="assignment_submit"),
    path("tasks/<id:task_id>/give-back/", task_views.assignment_withdraw_view, name="assignment_withdraw"),
    path("time/", views.time_list, name="time_list"),
    path("time/new/", views.time_new, name="time_new"),
    path("time/<id:entry_id>/", views.time_detail, name="time_detail"),
]
