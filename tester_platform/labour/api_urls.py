from django.urls import path
from rest_framework.routers import SimpleRouter

from tester_platform.labour import api

app_name = "labour_api"

router = SimpleRouter()
router.register("feedback", api.FeedbackViewSet, basename="feedback")
router.register("time-entries", api.TimeEntryViewSet, basename="time-entry")
router.register("tasks", api.TaskViewSet, basename="task")
router.register("assignments", api.AssignmentViewSet, basename="assignment")

urlpatterns = [
    path("earnings/", api.EarningsView.as_view(), name="earnings"),
    path("programs/<int:pk>/severities/", api.ProgramSeveritiesView.as_view(), name="program-severities"),
    *router.urls,
]
