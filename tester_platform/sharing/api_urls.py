from django.urls import path
from rest_framework.routers import SimpleRouter

from tester_platform.sharing.api import ProgramReasonsView, ShareRequestViewSet

app_name = "sharing_api"

router = SimpleRouter()
router.register("share-requests", ShareRequestViewSet, basename="share-request")

urlpatterns = [
    path("programs/<int:pk>/reasons/", ProgramReasonsView.as_view(), name="program-reasons"),
    *router.urls,
]
