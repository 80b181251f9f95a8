from django.urls import path

from tester_platform.sharing import views

app_name = "sharing"

urlpatterns = [
    path("", views.my_requests, name="mine"),
    path("policy/<slug:slug>/", views.policy, name="policy"),
    path("new/<int:generation_id>/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("<int:pk>/revoke/", views.revoke, name="revoke"),
    path("<int:pk>/appeal/", views.appeal, name="appeal"),
    path("<int:pk>/resubmit/", views.resubmit, name="resubmit"),
]
