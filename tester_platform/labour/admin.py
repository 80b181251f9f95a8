from django.contrib import admin

from tester_platform.labour.models import FeedbackReport, PayFloorAssessment, TimeEntry


class _DecidedThroughServices(admin.ModelAdmin):
    """Reviews go through the dashboard or the API (one write path: lock, audit, ledger);
    the admin shows the records and never changes them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FeedbackReport)
class FeedbackReportAdmin(_DecidedThroughServices):
    list_display = ("id", "title", "program", "artist", "category", "severity", "status", "created_at",
                    "reviewed_at", "acted_on_at")
    list_filter = ("status", "category", "severity", "program")
    search_fields = ("title", "body", "artist__email")
    list_select_related = ("program", "artist")


@admin.register(TimeEntry)
class TimeEntryAdmin(_DecidedThroughServices):
    list_display = ("id", "date", "minutes", "program", "artist", "status", "reviewed_at")
    list_filter = ("status", "program")
    search_fields = ("description", "artist__email")
    date_hierarchy = "date"
    list_select_related = ("program", "artist")


@admin.register(PayFloorAssessment)
class PayFloorAssessmentAdmin(_DecidedThroughServices):
    list_display = ("period_key", "program", "artist", "accepted_minutes", "earned_minor", "target_minor",
                    "topup_minor", "currency", "created_at")
    list_filter = ("period_key", "program")
    list_select_related = ("program", "artist")
