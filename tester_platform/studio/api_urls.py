"""The studio's API routes. No app_name: tester_platform.api.urls includes them in its own
namespace, so their names stay `api:generation-list`, `api:images` as before they moved here."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from tester_platform.studio.api import GenerationViewSet, ImageUploadView

router = SimpleRouter()
router.register("generations", GenerationViewSet, basename="generation")

urlpatterns = [
    path("images/", ImageUploadView.as_view(), name="images"),
    *router.urls,
]
