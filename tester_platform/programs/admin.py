from django.contrib import admin, messages

from tester_platform.admin_mixins import ReadOnlyAdmin
from tester_platform.errors import DomainError
from tester_platform.programs.models import Application, Enrollment, Invitation, Program, ProgramStaff
from tester_platform.programs.services import application_decide, program_set_paused


class ProgramStaffInline(admin.TabularInline):
    """Who staffs the program, read-only: roles are granted in the staff console, where
    only an admin can make someone a manager and every grant is audited."""

    model = ProgramStaff
    extra = 0
    fields = readonly_fields = ("user", "role")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Program)
class ProgramAdmin(ReadOnlyAdmin):
    list_display = ("name", "slug", "status", "model_profile", "daily_compute_seconds", "created_at")
    list_filter = ("status", "model_profile")
    search_fields = ("name", "slug")
    inlines = [ProgramStaffInline]
    actions = ["pause", "resume"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "status", "description", "model_profile")}),
        (
            "Quota policy",
            {"fields": ("daily_compute_seconds", "max_concurrent_jobs", "max_resolution", "max_duration_seconds")},
        ),
        ("Share policy", {"fields": ("share_review_hours", "share_approve_on_expiry")}),
    )

    def _set_paused(self, request, queryset, paused: bool):
        for program in queryset:
            try:
                program_set_paused(program=program, actor=request.user, paused=paused)
            except DomainError as error:
                self.message_user(request, f"{program}: {error.message}", messages.WARNING)

    @admin.action(description="Pause (kill switch): refuse new generations, cancel queued jobs")
    def pause(self, request, queryset):
        self._set_paused(request, queryset, True)

    @admin.action(description="Resume")
    def resume(self, request, queryset):
        self._set_paused(request, queryset, False)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ("email", "program", "created_at", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("program",)
    search_fields = ("email",)
    exclude = ("token_hash",)


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ("artist", "program", "status", "created_at", "decided_at")
    list_filter = ("status", "program")
    search_fields = ("artist__email", "statement")
    actions = ["accept"]

    @admin.action(description="Accept the selected applications")
    def accept(self, request, queryset):
        for application in queryset:
            try:
                application_decide(application=application, decided_by=request.user, accept=True)
            except DomainError as error:
                self.message_user(request, f"{application}: {error.message}", messages.WARNING)


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = ("artist", "program", "status", "created_at", "activated_at")
    list_filter = ("status", "program")
    search_fields = ("artist__email",)
