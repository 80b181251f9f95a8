from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tester_platform.api import views

app_name = "api"

router = SimpleRouter()
router.register("programs", views.ProgramViewSet, basename="program")
router.register("generations", views.GenerationViewSet, basename="generation")

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("me/", views.MeView.as_view(), name="me"),
    path("consent/", views.ConsentView.as_view(), name="consent"),
    path("consent/withdraw/", views.ConsentWithdrawView.as_view(), name="consent-withdraw"),
    path("audit/", views.AuditView.as_view(), name="audit"),
    path("usage/", views.UsageView.as_view(), name="usage"),
    path("images/", views.ImageUploadView.as_view(), name="images"),
    path("", include("tester_platform.portal.api_urls")),
    path("", include("tester_platform.sharing.api_urls")),
    path("", include("tester_platform.labour.api_urls")),
    path("", include("tester_platform.finance.api_urls")),
    *router.urls,
]
