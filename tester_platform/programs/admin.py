from django.contrib import admin, messages

from tester_platform.errors import DomainError
from tester_platform.programs.models import Application, Enrollment, Invitation, Program, ProgramStaff
from tester_platform.programs.services import application_decide, invitation_create, program_set_paused


class ProgramStaffInline(admin.TabularInline):
    model = ProgramStaff
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "status", "model_profile", "daily_compute_seconds", "created_at")
    list_filter = ("status", "model_profile")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [ProgramStaffInline]
    actions = ["pause", "resume"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "status", "description", "model_profile")}),
        ("Quota policy", {"fields": ("daily_compute_seconds", "max_concurrent_jobs", "max_resolution",
                                     "max_duration_seconds")}),
        ("Share policy", {"fields": ("share_review_hours", "share_approve_on_expiry")}),
    )

    def _set_paused(self, request, queryset, paused: bool):
        for program in queryset:
            try:
                program_set_paused(program=program, actor=request.user, paused=paused)
            except DomainError as error:
                self.message_user(request, f"{program}: {error.message}", messages.WARNING)

    @admin.action(description="Pause (kill switch): refuse new generations")
    def pause(self, request, queryset):
        self._set_paused(request, queryset, True)

    @admin.action(description="Resume")
    def resume(self, request, queryset):
        self._set_paused(request, queryset, False)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "program", "created_at", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("program",)
    search_fields = ("email",)
    fields = ("program", "email")

    def get_readonly_fields(self, request, obj=None):
        return ("program", "email") if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            return
        invitation, _token = invitation_create(program=obj.program, email=obj.email, invited_by=request.user)
        obj.pk = invitation.pk
        self.message_user(request, f"Invitation emailed to {invitation.email}.")


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ("artist", "program", "status", "created_at", "decided_at")
    list_filter = ("status", "program")
    search_fields = ("artist__email", "statement")
    readonly_fields = ("program", "artist", "portfolio_url", "statement", "status", "created_at", "decided_by",
                       "decided_at")
    fields = readonly_fields + ("reason",)
    actions = ["accept"]

    @admin.action(description="Accept the selected applications")
    def accept(self, request, queryset):
        for application in queryset:
            try:
                application_decide(application=application, decided_by=request.user, accept=True)
            except DomainError as error:
                self.message_user(request, f"{application}: {error.message}", messages.WARNING)

    def save_model(self, request, obj, form, change):
        # Saving a reason on an open application declines it with that reason.
        if change and obj.status == Application.Status.SUBMITTED and obj.reason.strip():
            application_decide(application=obj, decided_by=request.user, accept=False, reason=obj.reason)


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("artist", "program", "status", "created_at", "activated_at")
    list_filter = ("status", "program")
    search_fields = ("artist__email",)
    readonly_fields = ("artist", "program", "created_at", "activated_at")
