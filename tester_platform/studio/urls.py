from django.urls import path

from tester_platform.studio import views

app_name = "studio"

urlpatterns = [
    path("", views.studio, name="studio"),
    path("storyboard/", views.storyboard, name="storyboard"),
    path("generations/<int:job_id>/", views.detail, name="detail"),
    path("generations/<int:job_id>/progress/", views.progress, name="progress"),
    path("generations/<int:job_id>/cancel/", views.cancel, name="cancel"),
    path("media/<str:token>/", views.media, name="media"),
]
