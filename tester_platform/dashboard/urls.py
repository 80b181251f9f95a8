from django.urls import path

from tester_platform.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("workers/", views.workers, name="workers"),
]
