from django.contrib import admin

from tester_platform.admin_mixins import ReadOnlyAdmin
from tester_platform.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "actor", "subject", "program", "target_type", "target_id")
    list_filter = ("action", "program")
    search_fields = ("action", "actor__email", "subject__email", "target_id")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
