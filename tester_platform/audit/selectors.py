from __future__ import annotations

from django.db.models import QuerySet

from tester_platform.audit.models import AuditEvent


def audit_events_about(*, user) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(subject=user).select_related("actor", "program").order_by("-id")


def audit_events_for_program(*, program) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(program=program).select_related("actor", "subject", "program").order_by("-id")
