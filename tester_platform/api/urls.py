"""The API's URL root: the token endpoints of the API itself, then each workflow app's
`api_urls`, named by string so that the API layer imports no app above it."""

from django.urls import include, path

from tester_platform.api import views

app_name = "api"

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("", include("tester_platform.portal.api_urls")),
    path("", include("tester_platform.studio.api_urls")),
    path("", include("tester_platform.sharing.api_urls")),
    path("", include("tester_platform.labour.api_urls")),
    path("", include("tester_platform.finance.api_urls")),
]
