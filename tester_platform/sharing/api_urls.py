from rest_framework.routers import SimpleRouter

from tester_platform.sharing.api import ShareRequestViewSet

app_name = "sharing_api"

router = SimpleRouter()
router.register("share-requests", ShareRequestViewSet, basename="share-request")

urlpatterns = router.urls
