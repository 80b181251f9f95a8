from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse

from generation import services
from generation.models import BudgetAccount, GenerationJob, UsageRecord, Worker
from generation.selectors import worker_stats

if TYPE_CHECKING:  # the admin's classes are generic to the type checker only
    _ModelAdmin = admin.ModelAdmin[Any]
    _StackedInline = admin.StackedInline[Any, Any]
else:
    _ModelAdmin = admin.ModelAdmin
    _StackedInline = admin.StackedInline


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class UsageInline(ReadOnlyMixin, _StackedInline):
    model = UsageRecord
    can_delete = False
    extra = 0
    fields = (
        "device_name",
        "worker",
        "compute_seconds",
        "wall_seconds",
        "queue_seconds",
        "frames",
        "width",
        "height",
        "steps",
        "peak_memory_bytes",
        "cancelled",
        "created_at",
    )
    readonly_fields = fields


@admin.register(GenerationJob)
class GenerationJobAdmin(ReadOnlyMixin, _ModelAdmin):
    list_display = (
        "id",
        "artist",
        "program",
        "mode",
        "status",
        "progress",
        "width",
        "height",
        "num_frames",
        "model_profile",
        "worker",
        "created_at",
    )
    list_filter = ("status", "mode", "model_profile", "program")
    search_fields = ("id", "prompt", "celery_task_id")
    date_hierarchy = "created_at"
    list_select_related = ("artist", "program", "worker")
    inlines = [UsageInline]
    actions = ["cancel_jobs"]
    readonly_fields = [f.name for f in GenerationJob._meta.fields]

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_staff

    @admin.action(description="Cancel selected queued/running jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[GenerationJob]) -> None:
        done = 0
        for job in queryset.filter(status__in=GenerationJob.ACTIVE_STATUSES):
            services.job_cancel(job=job, actor=request.user)
            done += 1
        self.message_user(request, f"Cancellation requested for {done} job(s).", messages.SUCCESS)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # the action needs "change"; fields stay read-only
        return request.user.is_staff and obj is None


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyMixin, _ModelAdmin):
    list_display = (
        "job",
        "artist",
        "program",
        "device_name",
        "compute_seconds",
        "wall_seconds",
        "queue_seconds",
        "frames",
        "steps",
        "peak_memory_bytes",
        "cancelled",
        "created_at",
    )
    list_filter = ("device_name", "model_profile", "cancelled", "program")
    readonly_fields = [f.name for f in UsageRecord._meta.fields]


@admin.register(Worker)
class WorkerAdmin(ReadOnlyMixin, _ModelAdmin):
    list_display = (
        "hostname",
        "status",
        "device_name",
        "queues",
        "last_heartbeat",
        "jobs_done",
        "jobs_failed",
        "compute_24h",
    )
    list_filter = ("status", "device")
    readonly_fields = [f.name for f in Worker._meta.fields]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self._stats = {row["worker"].pk: row for row in worker_stats()}
        return super().changelist_view(request, extra_context)

    @admin.display(description="compute s (24 h)")
    def compute_24h(self, obj: Worker) -> str:
        row = getattr(self, "_stats", {}).get(obj.pk)
        return f"{row['compute_seconds_24h']:.1f} s / {row['jobs_24h']} jobs" if row else "-"


@admin.register(BudgetAccount)
class BudgetAccountAdmin(ReadOnlyMixin, _ModelAdmin):
    list_display = ("artist", "program", "last_reserved_at")
