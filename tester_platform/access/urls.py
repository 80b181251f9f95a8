from django.urls import path

from tester_platform.access import views

app_name = "access"

urlpatterns = [
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke_view, name="token_revoke"),
    path("dashboard/access/", views.flags, name="flags"),
    path("dashboard/access/flags/<int:pk>/review/", views.flag_review, name="flag_review"),
    path("dashboard/access/enrollments/<int:pk>/reinstate/", views.reinstate, name="reinstate"),
]
