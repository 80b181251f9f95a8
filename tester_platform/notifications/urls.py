from django.urls import path

import tester_platform.converters  # noqa: F401  (registers <id:…>)
from tester_platform.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("read/", views.mark_read, name="mark_read"),
    path("<id:pk>/", views.open_item, name="open"),
    path("settings/", views.email_settings, name="settings"),
    path("announcements/<id:pk>/", views.announcement, name="announcement"),
]
