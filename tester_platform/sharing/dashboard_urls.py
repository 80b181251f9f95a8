from django.urls import path

from tester_platform.sharing import dashboard_views as views

app_name = "sharing_review"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("figures/", views.figures, name="figures"),
    path("bulk-approve/", views.bulk_approve, name="bulk_approve"),
    path("<int:pk>/", views.review, name="review"),
    path("<int:pk>/appeal/", views.decide_appeal, name="decide_appeal"),
]
