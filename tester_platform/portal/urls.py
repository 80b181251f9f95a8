from django.urls import path

from tester_platform.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("invite/<str:token>/", views.invitation, name="invitation"),
    path("programs/<slug:slug>/", views.program_detail, name="program"),
    path("programs/<slug:slug>/apply/", views.apply, name="apply"),
    path("programs/<slug:slug>/onboarding/<str:step>/", views.onboarding, name="onboarding"),
    path("programs/<slug:slug>/consent/", views.consent, name="consent"),
    path("programs/<slug:slug>/consent/withdraw/", views.consent_withdraw_view, name="consent_withdraw"),
    path("me/activity/", views.activity, name="activity"),
    path("me/export.zip", views.export, name="export"),
]
