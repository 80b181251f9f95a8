from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tester_platform.health import healthz
from tester_platform.metrics import metrics_view
from tester_platform.sharing import views as sharing_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/", include("tester_platform.accounts.urls")),
    path("api/v1/", include("tester_platform.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("studio/", include("tester_platform.studio.urls")),
    path("", include("tester_platform.access.urls")),
    path("dashboard/", include("tester_platform.dashboard.urls")),
    path("dashboard/sharing/", include("tester_platform.sharing.dashboard_urls")),
    path("dashboard/labour/", include("tester_platform.labour.dashboard_urls")),
    path("sharing/", include("tester_platform.sharing.urls")),
    path("labour/", include("tester_platform.labour.urls")),
    path("inbox/", include("tester_platform.notifications.urls")),
    path("", include("tester_platform.finance.urls")),
    path("s/<slug:slug>/", sharing_views.public_page, name="share_public"),
    path("s/<slug:slug>/video.mp4", sharing_views.public_media, {"kind": "video"}, name="share_public_video"),
    path("s/<slug:slug>/poster", sharing_views.public_media, {"kind": "thumbnail"}, name="share_public_poster"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("tester_platform.portal.urls")),
]

# Problem details (JSON) for /api/ paths, the site's own pages elsewhere.
handler404 = "tester_platform.api.problems.page_not_found"
handler500 = "tester_platform.api.problems.server_error"
