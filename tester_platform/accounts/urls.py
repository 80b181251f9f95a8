from django.urls import path

from tester_platform.accounts import views

app_name = "accounts"

urlpatterns = [path("two-factor/", views.two_factor, name="two_factor")]
