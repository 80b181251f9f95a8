"""The artist's account API routes. No app_name: tester_platform.api.urls includes them in
its own namespace, so the names stay those the operations had before they moved here
(`api:me`, `api:consent`, `api:program-list`…); the export keeps its `portal_api` namespace."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tester_platform.portal.api import (
    AuditView,
    ConsentView,
    ConsentWithdrawView,
    MeExportView,
    MeView,
    ProgramViewSet,
    UsageView,
)

router = SimpleRouter()
router.register("programs", ProgramViewSet, basename="program")

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("consent/", ConsentView.as_view(), name="consent"),
    path("consent/withdraw/", ConsentWithdrawView.as_view(), name="consent-withdraw"),
    path("audit/", AuditView.as_view(), name="audit"),
    path("usage/", UsageView.as_view(), name="usage"),
    path("", include(([path("me/export/", MeExportView.as_view(), name="me-export")], "portal_api"))),
    *router.urls,
]
