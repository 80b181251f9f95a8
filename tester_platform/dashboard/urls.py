from django.urls import path

from tester_platform.dashboard import console, marketing, views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("workers/", views.workers, name="workers"),
    # The staff console: one program's settings, people and terms (tester_platform.dashboard.console).
    path("console/", console.index, name="console"),
    path("console/<slug:slug>/", console.program_settings, name="console_settings"),
    path("console/<slug:slug>/pause/", console.program_pause, name="console_pause"),
    path("console/<slug:slug>/resume/", console.program_resume, name="console_resume"),
    path("console/<slug:slug>/invitations/", console.invitations, name="console_invitations"),
    path(
        "console/<slug:slug>/invitations/<int:pk>/resend/",
        console.invitation_resend_view,
        name="console_invitation_resend",
    ),
    path(
        "console/<slug:slug>/invitations/<int:pk>/revoke/",
        console.invitation_revoke_view,
        name="console_invitation_revoke",
    ),
    path("console/<slug:slug>/applications/", console.applications, name="console_applications"),
    path(
        "console/<slug:slug>/applications/<int:pk>/decide/",
        console.application_decide_view,
        name="console_application_decide",
    ),
    path("console/<slug:slug>/enrollments/", console.enrollments, name="console_enrollments"),
    path(
        "console/<slug:slug>/enrollments/<int:pk>/suspend/",
        console.enrollment_suspend_view,
        name="console_enrollment_suspend",
    ),
    path(
        "console/<slug:slug>/enrollments/<int:pk>/reinstate/",
        console.enrollment_reinstate_view,
        name="console_enrollment_reinstate",
    ),
    path("console/<slug:slug>/rate-cards/", console.rate_cards, name="console_rate_cards"),
    path(
        "console/<slug:slug>/rate-cards/<int:pk>/publish/",
        console.rate_card_publish_view,
        name="console_rate_card_publish",
    ),
    path("console/<slug:slug>/consent/", console.consent, name="console_consent"),
    path("console/<slug:slug>/consent/<int:pk>/publish/", console.consent_publish_view, name="console_consent_publish"),
    path("console/<slug:slug>/staff/", console.staff, name="console_staff"),
    path("console/<slug:slug>/staff/<int:pk>/revoke/", console.staff_revoke_view, name="console_staff_revoke"),
    path("console/<slug:slug>/audit/", console.audit, name="console_audit"),
    path("console/<slug:slug>/marketing/", marketing.marketing, name="console_marketing"),
    path("console/<slug:slug>/announcements/", console.announcements, name="console_announcements"),
    path("console/<slug:slug>/tasks/", console.tasks, name="console_tasks"),
    path("console/<slug:slug>/tasks/<int:pk>/close/", console.task_close_view, name="console_task_close"),
]
