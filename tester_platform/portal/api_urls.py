from django.urls import path

from tester_platform.portal.api import MeExportView

app_name = "portal_api"

urlpatterns = [
    path("me/export/", MeExportView.as_view(), name="me-export"),
]
