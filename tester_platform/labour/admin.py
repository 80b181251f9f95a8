from django.contrib import admin

from tester_platform.admin_mixins import ReadOnlyAdmin
from tester_platform.labour.models import FeedbackReport, PayFloorAssessment, TimeEntry


@admin.register(FeedbackReport)
class FeedbackReportAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "title",
        "program",
        "artist",
        "category",
        "severity",
        "status",
        "created_at",
        "reviewed_at",
        "acted_on_at",
    )
    list_filter = ("status", "category", "severity", "program")
    search_fields = ("title", "body", "artist__email")
    list_select_related = ("program", "artist")


@admin.register(TimeEntry)
class TimeEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "date", "minutes", "program", "artist", "status", "reviewed_at")
    list_filter = ("status", "program")
    search_fields = ("description", "artist__email")
    date_hierarchy = "date"
    list_select_related = ("program", "artist")


@admin.register(PayFloorAssessment)
class PayFloorAssessmentAdmin(ReadOnlyAdmin):
    list_display = (
        "period_key",
        "program",
        "artist",
        "accepted_minutes",
        "earned_minor",
        "target_minor",
        "topup_minor",
        "currency",
        "created_at",
    )
    list_filter = ("period_key", "program")
    list_select_related = ("program", "artist")
