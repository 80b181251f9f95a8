from django.http import HttpResponse
from django.urls import include, path


def bare(request):
    """The floor: a Django view that does nothing (middleware, routing, a response)."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("__bare__/", bare), path("", include("tester_platform.urls"))]
