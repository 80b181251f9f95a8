"""The artist portal: thin views over the core services."""

from __future__ import annotations

import markdown
import nh3
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from payments.selectors import balances_for, current_rate_card
from tester_platform.accounts.services import user_sign_up, user_update_profile
from tester_platform.audit.selectors import audit_events_about
from tester_platform.common.handlers import error_title, errors_on, form_status
from tester_platform.common.http import client_ip
from tester_platform.consent.models import ConsentRecord
from tester_platform.consent.services import active_consent, consent_sign, consent_withdraw, current_document
from tester_platform.pagecache import ARTIST_PAGE_SCOPES, cached_page
from tester_platform.portal.forms import ApplicationForm, ConsentForm, InvitationSignUpForm, ProfileForm
from tester_platform.portal.selectors import quota_summaries
from tester_platform.programs.models import Enrollment, Program
from tester_platform.programs.services import application_submit, invitation_accept, invitation_for_token

ONBOARDING_STEPS = ("profile", "consent", "payout")


def render_markdown(text: str) -> str:
    """Program and consent texts are written by staff; still sanitised, never trusted as HTML."""
    return nh3.clean(markdown.markdown(text, extensions=["extra"]))


def _my_enrollment(request, slug: str) -> Enrollment:
    return get_object_or_404(Enrollment.objects.select_related("program"), program__slug=slug, artist=request.user)


@cached_page(access=login_required, scopes=ARTIST_PAGE_SCOPES)
def home(request):
    enrollments = list(Enrollment.objects.filter(artist=request.user).select_related("program"))
    for enrollment in enrollments:
        enrollment.consent = active_consent(artist=request.user, program=enrollment.program)
    quotas = {q["program"]: q for q in quota_summaries(artist=request.user, enrollments=enrollments)}
    for enrollment in enrollments:
        enrollment.quota = quotas[enrollment.program_id]
        enrollment.balances = balances_for(artist=request.user, program_id=enrollment.program_id)
    recruiting = Program.objects.filter(status=Program.Status.RECRUITING).exclude(enrollments__artist=request.user)
    return render(request, "portal/home.html", {"enrollments": enrollments, "recruiting": recruiting})


@error_title("This invitation cannot be used")
@require_http_methods(["GET", "POST"])
def invitation(request, token: str):
    invite = invitation_for_token(token)
    program = invite.program
    context = {
        "invite": invite,
        "program": program,
        "rate_card": current_rate_card(program_id=program.pk),
        "description_html": render_markdown(program.description),
    }
    if request.user.is_authenticated:
        if request.method == "POST":
            enrollment = invitation_accept(token=token, user=request.user)
            return redirect("portal:onboarding", slug=enrollment.program.slug, step="profile")
        return render(request, "portal/invitation.html", context)

    from tester_platform.accounts.models import User

    if User.objects.filter(email__iexact=invite.email).exists():
        context["existing_account"] = True
        return render(request, "portal/invitation.html", context)
    form = InvitationSignUpForm(request.POST or None, email=invite.email)
    if request.method == "POST" and form.is_valid():
        # The link came to this address, so following it verifies the address.
        user = user_sign_up(
            email=invite.email,
            password=form.cleaned_data["password1"],
            display_name=form.cleaned_data["display_name"],
            email_verified=True,
        )
        enrollment = invitation_accept(token=token, user=user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("portal:onboarding", slug=enrollment.program.slug, step="profile")
    context["form"] = form
    return render(request, "portal/invitation.html", context, status=400 if form.errors else 200)


@login_required
def program_detail(request, slug: str):
    program = get_object_or_404(Program.objects.exclude(status=Program.Status.DRAFT), slug=slug)
    enrollment = Enrollment.objects.filter(program=program, artist=request.user).first()
    if enrollment is None and program.status != Program.Status.RECRUITING:
        return render(
            request, "error.html", {"title": "Not found", "message": "No such program.", "back": "/"}, status=404
        )
    document = current_document(program=program)
    return render(
        request,
        "portal/program.html",
        {
            "program": program,
            "enrollment": enrollment,
            "rate_card": current_rate_card(program_id=program.pk),
            "description_html": render_markdown(program.description),
            "document": document,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def apply(request, slug: str):
    program = get_object_or_404(Program, slug=slug, status=Program.Status.RECRUITING)
    form = ApplicationForm(request.POST or None, initial={"portfolio_url": request.user.portfolio_url})
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            application_submit(program=program, artist=request.user, **form.cleaned_data)
            messages.success(
                request, f"Your application to {program.name} was sent. You will get an email with the decision."
            )
            return redirect("portal:home")
    return render(request, "portal/apply.html", {"program": program, "form": form}, status=form_status(form))


@login_required
@require_http_methods(["GET", "POST"])
def onboarding(request, slug: str, step: str):
    enrollment = _my_enrollment(request, slug)
    if step not in ONBOARDING_STEPS:
        return redirect("portal:onboarding", slug=slug, step="profile")
    if step == "consent":
        return consent(request, slug)
    context = {"enrollment": enrollment, "program": enrollment.program, "steps": ONBOARDING_STEPS, "step": step}
    if step == "profile":
        form = ProfileForm(
            request.POST or None,
            initial={"display_name": request.user.display_name, "portfolio_url": request.user.portfolio_url},
        )
        if request.method == "POST" and form.is_valid():
            user_update_profile(user=request.user, **form.cleaned_data)
            return redirect("portal:onboarding", slug=slug, step="consent")
        context["form"] = form
        return render(request, "portal/onboarding_profile.html", context, status=400 if form.errors else 200)
    # payout: connect a Stripe Express account (Account Link; Stripe sends the artist back here).
    from payments.payouts import connected_account_for
    from tester_platform.finance.onboarding import allow_stripe_form_action, start_onboarding

    if request.method == "POST":
        if request.POST.get("action") == "connect":
            return start_onboarding(request, request.path)
        messages.success(request, f"Welcome to {enrollment.program.name}.")
        return redirect("portal:home")
    context["account"] = connected_account_for(artist=request.user)
    return allow_stripe_form_action(render(request, "portal/onboarding_payout.html", context))


@login_required
@require_http_methods(["GET", "POST"])
def consent(request, slug: str):
    enrollment = _my_enrollment(request, slug)
    program = enrollment.program
    document = current_document(program=program)
    active = active_consent(artist=request.user, program=program)
    form = ConsentForm(request.POST or None, initial={"document_version": document.version if document else None})
    in_onboarding = enrollment.status == Enrollment.Status.ONBOARDING or request.resolver_match.url_name == "onboarding"
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            consent_sign(
                artist=request.user,
                program=program,
                ip_address=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                **form.cleaned_data,
            )
            if in_onboarding:
                return redirect("portal:onboarding", slug=slug, step="payout")
            messages.success(request, "Thank you — your consent is recorded.")
            return redirect("portal:home")
    return render(
        request,
        "portal/consent.html",
        {
            "enrollment": enrollment,
            "program": program,
            "document": document,
            "active": active,
            "form": form,
            "body_html": render_markdown(document.body) if document else "",
            "steps": ONBOARDING_STEPS,
            "step": "consent",
            "in_onboarding": in_onboarding,
            "records": ConsentRecord.objects.filter(artist=request.user, program=program).select_related("document"),
        },
        status=form_status(form),
    )


@error_title("Nothing to withdraw")
@login_required
@require_http_methods(["GET", "POST"])
def consent_withdraw_view(request, slug: str):
    enrollment = _my_enrollment(request, slug)
    active = active_consent(artist=request.user, program=enrollment.program)
    if request.method == "POST":
        consent_withdraw(
            artist=request.user,
            program=enrollment.program,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        messages.success(request, "Your consent is withdrawn. You can sign again at any time.")
        return redirect("portal:home")
    return render(
        request,
        "portal/consent_withdraw.html",
        {"enrollment": enrollment, "program": enrollment.program, "active": active},
    )


@login_required
def activity(request):
    from tester_platform.programs.audit_sentences import describe_events

    events = describe_events(audit_events_about(user=request.user).select_related("subject")[:200], viewer=request.user)
    return render(request, "portal/activity.html", {"events": events})


@login_required
def export(request):
    """Everything Atelier holds about the person, as one ZIP (tester_platform.portal.export)."""
    from tester_platform.portal.export import export_filename, export_zip

    response = HttpResponse(export_zip(request.user), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(request.user)}"'
    response["Cache-Control"] = "no-store"
    return response
