from django.db.models import Count, Q
from django.shortcuts import render

from generation.selectors import throughput_stats, worker_stats
from tester_platform.accounts.roles import ADMIN, FINANCE, MODERATOR, PROGRAM_MANAGER
from tester_platform.common.access import role_required
from tester_platform.policy import Act, programs_for
from tester_platform.programs.models import Application, Enrollment

STAFF = (MODERATOR, PROGRAM_MANAGER, FINANCE, ADMIN)


@role_required(*STAFF)
def home(request):
    programs = (
        programs_for(request.user, Act.READ)
        .annotate(
            active_testers=Count("enrollments", filter=Q(enrollments__status=Enrollment.Status.ACTIVE), distinct=True),
            onboarding=Count("enrollments", filter=Q(enrollments__status=Enrollment.Status.ONBOARDING), distinct=True),
            open_applications=Count(
                "applications", filter=Q(applications__status=Application.Status.SUBMITTED), distinct=True
            ),
        )
        .order_by("name")
    )
    managed = set(programs_for(request.user, Act.MANAGE).values_list("pk", flat=True))
    return render(request, "dashboard/home.html", {"programs": programs, "managed": managed})


@role_required(*STAFF)
def workers(request):
    """GPU workers: state, last heartbeat, what they did in the last 24 hours, and how much
    video per GPU-second they made (batches, busy %, queue wait)."""
    from tester_platform.metrics import queue_depths

    return render(
        request,
        "dashboard/workers.html",
        {"rows": worker_stats(), "queues": queue_depths(), "throughput": throughput_stats()},
    )
