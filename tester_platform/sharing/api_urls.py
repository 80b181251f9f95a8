from django.urls import path  # noqa: F401

app_name = "sharing_api"

urlpatterns: list = []
