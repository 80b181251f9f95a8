from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tester_platform.access.forms import FlagReviewForm, SuspendForm, TokenForm
from tester_platform.access.models import AccessFlag
from tester_platform.access.services import access_flag_review
from tester_platform.accounts.roles import ADMIN, MODERATOR, PROGRAM_MANAGER, has_role
from tester_platform.api.models import ApiToken
from tester_platform.api.services import token_create, token_revoke
from tester_platform.common.access import role_required
from tester_platform.common.handlers import errors_as_message, errors_on, form_status
from tester_platform.common.http import client_ip
from tester_platform.policy import Act, programs_for
from tester_platform.programs.models import Enrollment
from tester_platform.programs.services import enrollment_reinstate, enrollment_suspend


@login_required
def tokens(request):
    form = TokenForm(request.POST or None)
    raw = None
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            _, raw = token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                ttl_days=form.cleaned_data["ttl_days"],
                ip_address=client_ip(request),
                second_factor=request.user.is_verified(),
            )
            form = TokenForm()
    return render(
        request,
        "access/tokens.html",
        {
            "form": form,
            "raw_token": raw,
            "tokens": ApiToken.objects.filter(user=request.user),
            "flags": AccessFlag.objects.filter(artist=request.user, status=AccessFlag.Status.OPEN),
        },
        status=form_status(form),
    )


@login_required
@require_POST
def token_revoke_view(request, pk: int):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    with errors_as_message(request):
        token_revoke(token=token, actor=request.user)
        messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("access:tokens")


def _managed_programs(user):
    return programs_for(user, Act.MANAGE)


@role_required(MODERATOR, PROGRAM_MANAGER, ADMIN)
def flags(request):
    programs = list(_managed_programs(request.user))
    suspend_form = SuspendForm(request.POST or None, programs=programs)
    if request.method == "POST":
        if not programs:
            messages.error(request, "Only program managers can suspend artists.")
        elif suspend_form.is_valid():
            enrollment = Enrollment.objects.filter(
                artist__email__iexact=suspend_form.cleaned_data["email"],
                program_id=suspend_form.cleaned_data["program"],
            ).first()
            if enrollment is None:
                suspend_form.add_error("email", "No artist with this email in that program.")
            else:
                with errors_on(suspend_form):
                    enrollment_suspend(
                        enrollment=enrollment, actor=request.user, reason=suspend_form.cleaned_data["reason"]
                    )
                    messages.success(
                        request, f"{enrollment.artist.email} can no longer generate in {enrollment.program.name}."
                    )
                    return redirect("access:flags")
    visible = AccessFlag.objects.select_related("artist", "token", "program", "reviewed_by")
    if not has_role(request.user, ADMIN):
        visible = visible.filter(artist__enrollments__program__staff__user=request.user).distinct()
    suspended = Enrollment.objects.filter(status=Enrollment.Status.SUSPENDED, program__in=programs).select_related(
        "artist", "program"
    )
    return render(
        request,
        "access/flags.html",
        {
            "flags": visible[:200],
            "suspend_form": suspend_form,
            "review_form": FlagReviewForm(),
            "suspended": suspended,
            "can_suspend": bool(programs),
        },
    )


@role_required(MODERATOR, PROGRAM_MANAGER, ADMIN)
@require_POST
def flag_review(request, pk: int):
    # Visible to staff of the flagged artist's programs; who may decide is the service's
    # policy (the flag's program's managers, never the artist themself).
    visible = (
        AccessFlag.objects.all()
        if has_role(request.user, ADMIN)
        else AccessFlag.objects.filter(artist__enrollments__program__in=programs_for(request.user, Act.READ)).distinct()
    )
    flag = get_object_or_404(visible, pk=pk)
    form = FlagReviewForm(request.POST)
    if form.is_valid():
        with errors_as_message(request):
            access_flag_review(
                flag=flag,
                reviewer=request.user,
                undo=form.cleaned_data["decision"] == "undo",
                note=form.cleaned_data["note"],
            )
    return redirect("access:flags")


@role_required(PROGRAM_MANAGER, ADMIN)
@require_POST
def reinstate(request, pk: int):
    enrollment = get_object_or_404(Enrollment, pk=pk, program__in=_managed_programs(request.user))
    with errors_as_message(request):
        enrollment_reinstate(enrollment=enrollment, actor=request.user, note=request.POST.get("note", ""))
    return redirect("access:flags")
