"""The staff console: what program managers did in the Django admin, as pages.

Every page and action names its program in the URL and is scoped by the one policy:
staff of other programs get 404 (the program is not theirs to learn about), other staff
403. Every write goes through the service that checks the policy again and audits it."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from payments.models import RateCard
from payments.money import format_minor
from payments.selectors import current_rate_card
from tester_platform.accounts.models import User
from tester_platform.accounts.roles import STAFF_ROLES
from tester_platform.audit.selectors import audit_events_for_program
from tester_platform.common.access import role_required
from tester_platform.common.handlers import errors_as_message, errors_on, form_status
from tester_platform.consent.models import ConsentDocument
from tester_platform.consent.services import consent_document_draft, consent_document_publish, current_document
from tester_platform.dashboard.forms import (
    AnnouncementForm,
    ConsentDraftForm,
    DecisionForm,
    InvitationsForm,
    PauseForm,
    ProgramSettingsForm,
    RateCardForm,
    ReasonForm,
    StaffGrantForm,
)
from tester_platform.policy import Act, authorize, can, programs_for
from tester_platform.programs.models import Application, Enrollment, Invitation, Program, ProgramStaff
from tester_platform.programs.rate_cards import rate_card_draft, rate_card_publish
from tester_platform.programs.services import (
    InvitationListInvalid,
    application_decide,
    enrollment_reinstate,
    enrollment_suspend,
    invitation_create_many,
    invitation_is_open,
    invitation_resend,
    invitation_revoke,
    program_caps,
    program_set_paused,
    program_staff_grant,
    program_staff_revoke,
    program_update_settings,
)

PAGE_SIZE = 50


def _managed_program(user, slug: str) -> Program:
    # Staff of other programs: 404 from the lookup. Staff of this one who may not manage it
    # (moderators, finance) and anyone short of a second factor: 403 from the policy.
    program = get_object_or_404(programs_for(user, Act.READ), slug=slug)
    authorize(user, Act.MANAGE, program=program)  # refused: the page handler's 403
    return program


def console_view(*, action: bool = False):
    """A console page (GET, and POST for its form) or an action (POST only) of one program.
    The program is checked before the method, so a GET of another program's action is a
    404 like everything else of it."""

    def decorator(view):
        @wraps(view)
        def scoped(request, slug: str, **kwargs):
            program = _managed_program(request.user, slug)
            if action and request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return view(request, program, **kwargs)

        wrapper = role_required(*STAFF_ROLES)(scoped)
        wrapper.console_action = action
        return wrapper

    return decorator


def _page(request, program: Program, template: str, tab: str, context: dict, *, status: int = 200):
    return render(request, f"dashboard/console/{template}", {"program": program, "tab": tab, **context}, status=status)


def _done(request, message: str, to: str, program: Program):
    messages.success(request, message)
    return redirect(to, slug=program.slug)


@role_required(*STAFF_ROLES)
def index(request):
    programs = (
        programs_for(request.user, Act.MANAGE)
        .annotate(
            active_testers=Count("enrollments", filter=Q(enrollments__status=Enrollment.Status.ACTIVE), distinct=True),
            open_applications=Count(
                "applications", filter=Q(applications__status=Application.Status.SUBMITTED), distinct=True
            ),
        )
        .order_by("name")
    )
    if not programs.exists() and not can(request.user, Act.MANAGE):
        # can() without a program is true only for site-wide managers (administrators).
        raise PermissionDenied("The console is for program managers.")
    return render(request, "dashboard/console/index.html", {"programs": programs})


# --- settings and the kill switch ---------------------------------------------------------


@console_view()
def program_settings(request, program: Program):
    form = ProgramSettingsForm(request.POST or None, initial=ProgramSettingsForm.initial_for(program))
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            program_update_settings(program=program, actor=request.user, **form.cleaned_data)
            return _done(request, "Settings saved.", "dashboard:console_settings", program)
    return _page(
        request,
        program,
        "settings.html",
        "settings",
        {
            "form": form,
            "pause_form": PauseForm(),
            "caps": program_caps(program),
        },
        status=form_status(form),
    )


def _set_paused(request, program: Program, paused: bool):
    form = PauseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    with errors_as_message(request):
        program = program_set_paused(program=program, actor=request.user, paused=paused, reason=reason)
        message = (
            "Program paused: new generations are refused and queued jobs were cancelled."
            if paused
            else "Program resumed: artists can generate again."
        )
        return _done(request, message, "dashboard:console_settings", program)
    return redirect("dashboard:console_settings", slug=program.slug)


@console_view(action=True)
def program_pause(request, program: Program):
    return _set_paused(request, program, True)


@console_view(action=True)
def program_resume(request, program: Program):
    return _set_paused(request, program, False)


# --- invitations --------------------------------------------------------------------------


def _invitation_state(invitation: Invitation, now) -> str:
    if invitation.accepted_at:
        return "accepted"
    if invitation.revoked_at:
        return "revoked"
    return "open" if invitation_is_open(invitation, now=now) else "expired"


@console_view()
def invitations(request, program: Program):
    form = InvitationsForm(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        labels = [label for label, _ in form.entries]
        with errors_on(form):
            try:
                batch = invitation_create_many(
                    program=program, emails=[a for _, a in form.entries], invited_by=request.user
                )
            except InvitationListInvalid as error:
                # Not handled here, only read: besides its message on the field (errors_on puts it
                # there), the page lists each refused line of the pasted list.
                problems = [
                    f"{labels[index][:1].upper()}{labels[index][1:]}: {message}" for index, message in error.problems
                ]
                raise
            message = f"{len(batch.created)} invitation{'s' if len(batch.created) != 1 else ''} sent."
            if batch.skipped:
                message += " Skipped: " + "; ".join(f"{address} ({why})" for address, why in batch.skipped) + "."
            return _done(request, message, "dashboard:console_invitations", program)
    now = timezone.now()
    page = Paginator(
        Invitation.objects.filter(program=program).select_related("invited_by", "accepted_by"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    for invitation in page:
        invitation.state = _invitation_state(invitation, now)
    return _page(
        request,
        program,
        "invitations.html",
        "invitations",
        {"form": form, "problems": problems, "page": page},
        status=form_status(form),
    )


@console_view(action=True)
def invitation_resend_view(request, program: Program, pk: int):
    invitation = get_object_or_404(Invitation, pk=pk, program=program)
    with errors_as_message(request):
        new, _ = invitation_resend(invitation=invitation, actor=request.user)
        return _done(
            request,
            f"A new invitation was sent to {new.email}; the old link no longer works.",
            "dashboard:console_invitations",
            program,
        )
    return redirect("dashboard:console_invitations", slug=program.slug)


@console_view(action=True)
def invitation_revoke_view(request, program: Program, pk: int):
    invitation = get_object_or_404(Invitation, pk=pk, program=program)
    with errors_as_message(request):
        invitation_revoke(invitation=invitation, actor=request.user)
        return _done(
            request, f"The invitation of {invitation.email} was revoked.", "dashboard:console_invitations", program
        )
    return redirect("dashboard:console_invitations", slug=program.slug)


# --- applications -------------------------------------------------------------------------


@console_view()
def applications(request, program: Program):
    qs = Application.objects.filter(program=program).select_related("artist", "decided_by")
    return _page(
        request,
        program,
        "applications.html",
        "applications",
        {
            "open": qs.filter(status=Application.Status.SUBMITTED).order_by("created_at"),
            "decided": qs.exclude(status=Application.Status.SUBMITTED).order_by("-decided_at")[:20],
        },
    )


@console_view(action=True)
def application_decide_view(request, program: Program, pk: int):
    application = get_object_or_404(Application, pk=pk, program=program)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose accept or decline.")
        return redirect("dashboard:console_applications", slug=program.slug)
    accept = form.cleaned_data["decision"] == "accept"
    with errors_as_message(request):
        application_decide(
            application=application, decided_by=request.user, accept=accept, reason=form.cleaned_data["reason"]
        )
        return _done(
            request,
            f"{application.artist.email}: {'accepted' if accept else 'declined'}.",
            "dashboard:console_applications",
            program,
        )
    return redirect("dashboard:console_applications", slug=program.slug)


# --- enrollments --------------------------------------------------------------------------


@console_view()
def enrollments(request, program: Program):
    status = request.GET.get("status")
    qs = Enrollment.objects.filter(program=program).select_related("artist").order_by("artist__email")
    if status in Enrollment.Status.values:
        qs = qs.filter(status=status)
    else:
        status = ""
    counts = dict(Enrollment.objects.filter(program=program).values_list("status").annotate(n=Count("id")))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return _page(
        request,
        program,
        "enrollments.html",
        "enrollments",
        {
            "page": page,
            "status": status,
            "statuses": [(value, label, counts.get(value, 0)) for value, label in Enrollment.Status.choices],
        },
    )


@console_view(action=True)
def enrollment_suspend_view(request, program: Program, pk: int):
    enrollment = get_object_or_404(Enrollment.objects.select_related("artist"), pk=pk, program=program)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    with errors_as_message(request):
        enrollment_suspend(enrollment=enrollment, actor=request.user, reason=reason)
        return _done(
            request,
            f"{enrollment.artist.email} is suspended; they see your reason on their dashboard.",
            "dashboard:console_enrollments",
            program,
        )
    return redirect("dashboard:console_enrollments", slug=program.slug)


@console_view(action=True)
def enrollment_reinstate_view(request, program: Program, pk: int):
    enrollment = get_object_or_404(Enrollment.objects.select_related("artist"), pk=pk, program=program)
    form = ReasonForm(request.POST)
    note = form.cleaned_data["reason"] if form.is_valid() else ""
    with errors_as_message(request):
        enrollment_reinstate(enrollment=enrollment, actor=request.user, note=note)
        return _done(request, f"{enrollment.artist.email} is reinstated.", "dashboard:console_enrollments", program)
    return redirect("dashboard:console_enrollments", slug=program.slug)


# --- rate cards ---------------------------------------------------------------------------


@console_view()
def rate_cards(request, program: Program):
    cards = list(RateCard.objects.filter(program=program).order_by("-version"))
    draft = cards[0] if cards and cards[0].published_at is None else None
    current = current_rate_card(program_id=program.pk)
    form = RateCardForm(request.POST or None, initial=RateCardForm.initial_for(draft or current))
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            card = rate_card_draft(program=program, actor=request.user, **form.terms())
            return _done(
                request,
                f"Draft version {card.version} saved. Check it, then publish it.",
                "dashboard:console_rate_cards",
                program,
            )
    return _page(
        request,
        program,
        "rate_cards.html",
        "rate_cards",
        {
            "form": form,
            "draft": draft,
            "current": current,
            "published": [c for c in cards if c.published_at is not None],
        },
        status=form_status(form),
    )


@console_view(action=True)
def rate_card_publish_view(request, program: Program, pk: int):
    card = get_object_or_404(RateCard, pk=pk, program=program)
    with errors_as_message(request):
        card = rate_card_publish(card=card, actor=request.user)
        return _done(
            request,
            f"Rate card version {card.version} is published and now current.",
            "dashboard:console_rate_cards",
            program,
        )
    return redirect("dashboard:console_rate_cards", slug=program.slug)


# --- consent documents ----------------------------------------------------------------------


@console_view()
def consent(request, program: Program):
    documents = list(ConsentDocument.objects.filter(program=program).order_by("-version"))
    draft = documents[0] if documents and documents[0].published_at is None else None
    current = current_document(program=program)
    source = draft or current
    form = ConsentDraftForm(
        request.POST or None, initial={"title": source.title, "body": source.body} if source else None
    )
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            document = consent_document_draft(program=program, actor=request.user, **form.cleaned_data)
            return _done(
                request,
                f"Draft version {document.version} saved. Publish it when it is final.",
                "dashboard:console_consent",
                program,
            )
    return _page(
        request,
        program,
        "consent.html",
        "consent",
        {
            "form": form,
            "draft": draft,
            "current": current,
            "published": [d for d in documents if d.published_at is not None],
        },
        status=form_status(form),
    )


@console_view(action=True)
def consent_publish_view(request, program: Program, pk: int):
    document = get_object_or_404(ConsentDocument, pk=pk, program=program)
    with errors_as_message(request):
        document = consent_document_publish(document=document, actor=request.user)
        return _done(
            request,
            f"Consent version {document.version} is published. Artists are asked to sign it again "
            "before they generate.",
            "dashboard:console_consent",
            program,
        )
    return redirect("dashboard:console_consent", slug=program.slug)


# --- program staff ------------------------------------------------------------------------


@console_view()
def staff(request, program: Program):
    can_grant_manager = can(request.user, Act.GRANT_MANAGER, program=program)
    form = StaffGrantForm(request.POST or None, can_grant_manager=can_grant_manager)
    if request.method == "POST" and form.is_valid():
        user = User.objects.filter(email__iexact=form.cleaned_data["email"]).first()
        if user is None:
            form.add_error("email", "No account has this email address; they need an account first.")
        else:
            with errors_on(form):
                row = program_staff_grant(
                    program=program, user=user, role=form.cleaned_data["role"], actor=request.user
                )
                return _done(
                    request,
                    f"{user.email} is now {row.get_role_display().lower()} of {program.name}.",
                    "dashboard:console_staff",
                    program,
                )
    rows = list(ProgramStaff.objects.filter(program=program).select_related("user").order_by("role", "user__email"))
    for row in rows:
        row.revocable = row.user_id != request.user.pk and (
            row.role == ProgramStaff.Role.MODERATOR or can_grant_manager
        )
    return _page(
        request,
        program,
        "staff.html",
        "staff",
        {"form": form, "rows": rows, "can_grant_manager": can_grant_manager},
        status=form_status(form),
    )


@console_view(action=True)
def staff_revoke_view(request, program: Program, pk: int):
    row = get_object_or_404(ProgramStaff.objects.select_related("user"), pk=pk, program=program)
    with errors_as_message(request):
        program_staff_revoke(staff=row, actor=request.user)
        return _done(
            request,
            f"{row.user.email} is no longer {row.get_role_display().lower()} of {program.name}.",
            "dashboard:console_staff",
            program,
        )
    return redirect("dashboard:console_staff", slug=program.slug)


# --- audit trail --------------------------------------------------------------------------


def _shown(name: str, value, currency: str) -> str:
    if name.endswith("_minor") and isinstance(value, int) and not isinstance(value, bool):
        return format_minor(value, currency)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "—" if value in (None, "") else str(value)


def _details(event) -> list[tuple[str, str]]:
    """An event's data for people: changes as "before → after", amounts as money. The
    stored data stays as recorded (minor units), since the chain hashes exactly that."""
    data = event.data or {}
    if event.action == "program.settings_updated":
        return [
            (name.replace("_", " "), f"{_shown(name, c.get('before'), '')} → {_shown(name, c.get('after'), '')}")
            for name, c in (data.get("changes") or {}).items()
        ]
    if event.action == "rate_card.drafted":
        after, before = data.get("after") or {}, data.get("before") or {}
        currency = after.get("currency") or "EUR"
        items = [("version", str(data.get("version")))]
        for name, value in after.items():
            label = name.removesuffix("_minor").replace("_", " ")
            if not before:
                items.append((label, _shown(name, value, currency)))
            elif before.get(name) != value:
                items.append(
                    (
                        label,
                        f"{_shown(name, before.get(name), before.get('currency') or currency)} → "
                        f"{_shown(name, value, currency)}",
                    )
                )
        return items
    return [(key.replace("_", " "), _shown(key, value, "")) for key, value in data.items()]


@console_view()
def audit(request, program: Program):
    page = Paginator(audit_events_for_program(program=program), PAGE_SIZE).get_page(request.GET.get("page"))
    from tester_platform.programs.audit_sentences import describe_events

    describe_events(page, viewer=request.user)
    for event in page:
        event.details = _details(event)
    return _page(request, program, "audit.html", "audit", {"page": page})


# --- announcements --------------------------------------------------------------------------


@console_view()
def announcements(request, program: Program):
    from tester_platform.notifications.models import Announcement
    from tester_platform.notifications.services import announcement_publish

    form = AnnouncementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            item = announcement_publish(program=program, actor=request.user, **form.cleaned_data)
            return _done(
                request,
                f"Announcement sent to {item.recipients} tester{'s' if item.recipients != 1 else ''}"
                f"{' (inbox and email)' if item.email else ' (inbox)'}.",
                "dashboard:console_announcements",
                program,
            )
    return _page(
        request,
        program,
        "announcements.html",
        "announcements",
        {
            "form": form,
            "items": Announcement.objects.filter(program=program).select_related("created_by")[:50],
        },
        status=form_status(form),
    )


# --- tasks (assignments) -----------------------------------------------------------------------


@console_view()
def tasks(request, program: Program):
    from django.contrib.auth import get_user_model

    from tester_platform.labour.assignments import task_publish
    from tester_platform.labour.forms import TaskForm
    from tester_platform.labour.models import Task
    from tester_platform.labour.selectors import with_progress

    card = current_rate_card(program_id=program.pk)
    testers = (
        get_user_model()
        .objects.filter(enrollments__program=program, enrollments__status=Enrollment.Status.ACTIVE)
        .order_by("email")
    )
    form = TaskForm(request.POST or None, testers=testers, currency=card.currency if card else "EUR")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with errors_on(form):
            task = task_publish(
                program=program,
                actor=request.user,
                title=data["title"],
                instructions=data["instructions"],
                category=data["category"],
                estimated_minutes=data["estimated_minutes"],
                pay=data["pay"],
                fixed_pay_minor=data["fixed_pay"],
                capacity=data["capacity"],
                due_at=data["due_at"],
                invited_ids=data["invited"],
            )
            return _done(
                request, f"Task “{task.title}” is published; its testers were told.", "dashboard:console_tasks", program
            )
    rows = with_progress(Task.objects.filter(program=program)).order_by("-created_at")
    return _page(
        request,
        program,
        "tasks.html",
        "tasks",
        {
            "form": form,
            "tasks": rows,
            "rate_card": card,
            "now": timezone.now(),
        },
        status=form_status(form),
    )


@console_view(action=True)
def task_close_view(request, program: Program, pk: int):
    from tester_platform.labour.assignments import task_close
    from tester_platform.labour.models import Task

    task = get_object_or_404(Task, pk=pk, program=program)
    with errors_as_message(request):
        task_close(task=task, actor=request.user)
        return _done(request, f"Task “{task.title}” is closed to new testers.", "dashboard:console_tasks", program)
    return redirect("dashboard:console_tasks", slug=program.slug)
