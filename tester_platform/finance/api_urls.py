from django.urls import path
from rest_framework.routers import SimpleRouter

from tester_platform.finance import api

app_name = "finance_api"

router = SimpleRouter()
router.register("payouts", api.PayoutViewSet, basename="payout")
router.register("payout-runs", api.PayoutRunViewSet, basename="payout-run")

urlpatterns = [
    path("payout-account/", api.PayoutAccountView.as_view(), name="payout-account"),
    *router.urls,
]
