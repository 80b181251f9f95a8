from __future__ import annotations

from django.db.models import Q, QuerySet

from tester_platform.accounts.roles import ADMIN, FINANCE, has_role
from tester_platform.policy import Act, programs_for
from tester_platform.programs.models import Program


def programs_visible_to(*, user) -> QuerySet[Program]:
    """Staff with a program-wide role see every program; others see the programs they are
    enrolled in or staff of, and those recruiting."""
    if has_role(user, ADMIN, FINANCE):
        return Program.objects.all()
    return Program.objects.filter(
        Q(enrollments__artist=user)
        | Q(pk__in=programs_for(user, Act.READ).values("pk"))
        | Q(status=Program.Status.RECRUITING)
    ).distinct()
