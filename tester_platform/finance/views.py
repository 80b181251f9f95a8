"""Finance pages (payout runs, reports, CSV/PDF), the artist's payout pages (account,
payouts, statements) and the Stripe webhook endpoint. Thin: forms in, services out."""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from payments.errors import PaymentsError, WebhookSignatureInvalid
from payments.models import Payout, PayoutRun, WebhookEvent
from payments.payouts import connected_account_for
from payments.selectors import balances_for, payout_totals_by_status, payouts_for_artist
from tester_platform.accounts.roles import ADMIN, FINANCE, has_role
from tester_platform.common.access import role_required
from tester_platform.common.days import local_day
from tester_platform.common.handlers import error_title, errors_as_message
from tester_platform.finance import reports
from tester_platform.finance.forms import PayoutRunForm, PeriodForm
from tester_platform.finance.onboarding import allow_stripe_form_action, is_artist, start_onboarding
from tester_platform.finance.pdf import render_pdf
from tester_platform.finance.services import (
    CONNECT,
    PLATFORM,
    closed_period_end,
    payout_account_refresh,
    payout_run_approve,
    payout_run_discard,
    payout_run_execute,
    payout_run_prepare,
    webhook_handle,
)

log = logging.getLogger(__name__)
FINANCE_ROLES = (FINANCE, ADMIN)


def _run_or_404(run_id: int) -> PayoutRun:
    run = PayoutRun.objects.select_related("program", "created_by").filter(pk=run_id).first()
    if run is None:
        raise Http404("No such payout run.")
    return run


# --- finance: runs --------------------------------------------------------------------------


def _runs():
    return PayoutRun.objects.select_related("program", "created_by", "approved_by")[:50]


@role_required(*FINANCE_ROLES)
def home(request):
    from payments.models import Reconciliation

    form = PayoutRunForm(initial={"period_end": closed_period_end()})
    return render(
        request,
        "finance/home.html",
        {
            "last_reconciliation": Reconciliation.objects.first(),
            "form": form,
            "runs": _runs(),
            "closed_period_end": closed_period_end(),
            "by_status": [dict(r, label=Payout.Status(r["status"]).label) for r in payout_totals_by_status()],
            "failed_events": WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).count(),
            "period_form": PeriodForm(initial={"start": local_day().replace(day=1), "end": local_day()}),
        },
    )


@error_title("The payout run was not prepared")
@role_required(*FINANCE_ROLES)
@require_POST
def run_create(request):
    """Prepare a run (a preview); nothing is sent before a second finance user approves it."""
    from payments.errors import NothingToPay

    form = PayoutRunForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "finance/home.html",
            {
                "form": form,
                "runs": _runs(),
                "by_status": [],
                "closed_period_end": closed_period_end(),
                "period_form": PeriodForm(),
            },
            status=400,
        )
    try:
        run = payout_run_prepare(
            actor=request.user, period_end=form.cleaned_data["period_end"], program=form.cleaned_data["program"]
        )
    except NothingToPay as nothing:
        # Recovers: the page lists who is owed but not payable now, and why, so finance
        # knows what to chase (any other service error goes to the page handler).
        return render(
            request,
            "finance/nothing_to_pay.html",
            {"message": nothing.message, "skipped": reports.skipped_rows(nothing.skipped)},
            status=nothing.http_status,
        )
    messages.success(
        request,
        f"Payout run #{run.pk} prepared: {run.payout_count} payout{pluralize(run.payout_count)}. "
        f"Nothing is sent until "
        f"a second finance user approves it.",
    )
    return redirect("finance:run_detail", run_id=run.pk)


@role_required(*FINANCE_ROLES)
def run_detail(request, run_id: int):
    from payments.payouts import run_preview_digest

    run = _run_or_404(run_id)
    report = reports.run_report(run)
    return render(
        request,
        "finance/run_detail.html",
        {
            "run": run,
            "report": report,
            "attempts": run.attempts.select_related("actor"),
            "digest": run_preview_digest(run_id=run.pk) if run.status == PayoutRun.Status.PREPARED else "",
            "is_preparer": run.created_by_id == request.user.pk,
        },
    )


@role_required(*FINANCE_ROLES)
@require_POST
def run_approve(request, run_id: int):
    """The second pair of eyes: approve exactly the previewed amounts."""
    run = _run_or_404(run_id)
    with errors_as_message(request):
        run = payout_run_approve(actor=request.user, run=run, digest=request.POST.get("digest") or "")
        messages.success(request, f"Payout run #{run.pk} approved: {run.payout_count} transfers are being created.")
    return redirect("finance:run_detail", run_id=run.pk)


@role_required(*FINANCE_ROLES)
@require_POST
def run_discard(request, run_id: int):
    run = _run_or_404(run_id)
    with errors_as_message(request):
        run = payout_run_discard(actor=request.user, run=run)
        messages.success(request, f"Payout run #{run.pk} discarded: nothing was sent; the money stays owed.")
    return redirect("finance:run_detail", run_id=run.pk)


@role_required(*FINANCE_ROLES)
@require_POST
def run_execute(request, run_id: int):
    """Resume an approved run now, in this request (the beat task would within minutes);
    safe beside the background task."""
    run = _run_or_404(run_id)
    with errors_as_message(request, "The run stopped: {message} Pending payouts stay pending; it resumes by itself."):
        run = payout_run_execute(run_id=run.pk, actor=request.user, trigger="manual")
        messages.success(request, f"Payout run #{run.pk}: {run.get_status_display()}.")
    return redirect("finance:run_detail", run_id=run.pk)


# --- finance: reconciliation -------------------------------------------------------------------


@role_required(*FINANCE_ROLES)
def reconciliation(request):
    """The latest comparison of the ledger, our payouts and Stripe, with every difference."""
    from payments.models import Reconciliation

    reports_ = list(Reconciliation.objects.select_related("requested_by")[:10])
    return render(
        request, "finance/reconciliation.html", {"report": reports_[0] if reports_ else None, "history": reports_}
    )


@role_required(*FINANCE_ROLES)
@require_POST
def reconciliation_run_view(request):
    from tester_platform.finance.services import reconciliation_run

    with errors_as_message(request):
        report = reconciliation_run(actor=request.user)
        if report.error:
            messages.error(request, f"The check could not finish: {report.error}")
        elif report.difference_count:
            messages.warning(
                request,
                f"{report.difference_count} difference{pluralize(report.difference_count)} "
                f"between the ledger and Stripe.",
            )
        else:
            messages.success(request, "The ledger, the payouts and Stripe agree.")
    return redirect("finance:reconciliation")


# --- finance: reports ------------------------------------------------------------------------


@role_required(*FINANCE_ROLES)
def run_report(request, run_id: int):
    run = _run_or_404(run_id)
    return render(request, "finance/report.html", {"report": reports.run_report(run), "run": run})


def _period(request) -> tuple[PeriodForm, reports.Report | None]:
    today = local_day()
    form = PeriodForm(request.GET or {"start": today.replace(day=1).isoformat(), "end": today.isoformat()})
    if not form.is_valid():
        return form, None
    return form, reports.period_report(
        start=form.cleaned_data["start"], end=form.cleaned_data["end"], program=form.cleaned_data["program"]
    )


@role_required(*FINANCE_ROLES)
def period_report(request):
    form, report = _period(request)
    return render(
        request, "finance/report.html", {"report": report, "period_form": form}, status=200 if report else 400
    )


def _csv(report: reports.Report, filename: str) -> HttpResponse:
    response = HttpResponse(reports.report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _pdf(template: str, context: dict, filename: str, *, inline: bool = False) -> HttpResponse:
    response = HttpResponse(render_pdf(template, context), content_type="application/pdf")
    response["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{filename}"'
    return response


def run_report_response(run: PayoutRun, kind: str) -> HttpResponse:
    """A run's report as a CSV or PDF attachment (the pages and the API serve the same file)."""
    if kind == "csv":
        return _csv(reports.run_report(run), f"atelier-payout-run-{run.pk}.csv")
    return _pdf(
        "finance/pdf_report.html",
        {"report": reports.run_report(run), "generated_at": timezone.now()},
        f"atelier-payout-run-{run.pk}.pdf",
    )


def period_report_response(*, start: dt.date, end: dt.date, program, kind: str) -> HttpResponse:
    report = reports.period_report(start=start, end=end, program=program)
    if kind == "csv":
        return _csv(report, f"atelier-payouts-{start}-{end}.csv")
    return _pdf(
        "finance/pdf_report.html",
        {"report": report, "generated_at": timezone.now()},
        f"atelier-payouts-{start}-{end}.pdf",
    )


def statement_pdf_response(payout: Payout) -> HttpResponse:
    return _pdf(
        "finance/pdf_statement.html",
        {"statement": reports.statement(payout), "generated_at": timezone.now()},
        f"atelier-statement-{payout.pk}.pdf",
    )


@role_required(*FINANCE_ROLES)
def run_report_csv(request, run_id: int):
    return run_report_response(_run_or_404(run_id), "csv")


@role_required(*FINANCE_ROLES)
def run_report_pdf(request, run_id: int):
    return run_report_response(_run_or_404(run_id), "pdf")


@role_required(*FINANCE_ROLES)
def period_report_csv(request):
    form, report = _period(request)
    if report is None:
        return JsonResponse({"errors": form.errors}, status=400)
    return _csv(report, f"atelier-payouts-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv")


@role_required(*FINANCE_ROLES)
def period_report_pdf(request):
    form, report = _period(request)
    if report is None:
        return JsonResponse({"errors": form.errors}, status=400)
    return _pdf(
        "finance/pdf_report.html",
        {"report": report, "generated_at": timezone.now()},
        f"atelier-payouts-{form.cleaned_data['start']}-{form.cleaned_data['end']}.pdf",
    )


# --- artist: payout account and payouts ----------------------------------------------------------


def _safe_next(request, default: str) -> str:
    target = request.GET.get("next") or request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@login_required
def payouts_page(request):
    account = connected_account_for(artist=request.user)
    payouts = list(payouts_for_artist(artist=request.user))
    return allow_stripe_form_action(
        render(
            request,
            "finance/payouts.html",
            {
                "account": account,
                "payouts": payouts,
                "balances": balances_for(artist=request.user),
            },
        )
    )


@login_required
@require_POST
def payout_connect(request):
    return start_onboarding(request, _safe_next(request, reverse("finance:payouts")))


@login_required
@require_http_methods(["GET", "POST"])
def payout_refresh(request):
    """Stripe's refresh_url: the link expired or was used. Stripe sends the browser here with
    a GET, and a GET changes nothing (a link or an image on any page could fire it): it
    answers with a button that POSTs back here, and the POST makes the new link."""
    next_path = _safe_next(request, reverse("finance:payouts"))
    if request.method == "POST":
        return start_onboarding(request, next_path)
    if not is_artist(request.user):
        raise PermissionDenied("Payout accounts are for artists.")
    return allow_stripe_form_action(render(request, "finance/payout_refresh.html", {"next": next_path}))


@login_required
def payout_return(request):
    """Stripe's return_url: read the account's state now (the webhook may come later)."""
    try:
        account = payout_account_refresh(artist=request.user)
    except PaymentsError as error:
        # Recovers: the webhook brings the account's state later; until then the page shows
        # the state stored last, with a warning instead of an error page.
        messages.warning(request, f"We could not read your Stripe account yet ({error.message}).")
        account = connected_account_for(artist=request.user)
    if account is not None and account.payouts_enabled:
        messages.success(request, "Your payout account is connected: payouts are enabled.")
    elif account is not None:
        messages.warning(request, "Stripe still needs: " + "; ".join(account.missing))
    return redirect(_safe_next(request, reverse("finance:payouts")))


def _own_payout_or_404(request, payout_id: int) -> Payout:
    payout = (
        Payout.objects.select_related("artist", "run", "run__program", "connected_account").filter(pk=payout_id).first()
    )
    if payout is None or (payout.artist_id != request.user.pk and not has_role(request.user, *FINANCE_ROLES)):
        raise Http404("No such payout.")
    return payout


@login_required
def statement(request, payout_id: int):
    """The statement on screen: every ledger line the payout pays."""
    payout = _own_payout_or_404(request, payout_id)
    return render(request, "finance/statement.html", {"statement": reports.statement(payout)})


@login_required
def statement_pdf(request, payout_id: int):
    return statement_pdf_response(_own_payout_or_404(request, payout_id))


# --- Stripe webhook --------------------------------------------------------------------------


def _webhook(request, endpoint: str):
    try:
        outcome = webhook_handle(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature"), endpoint=endpoint
        )
    except WebhookSignatureInvalid as error:
        # Not a page: Stripe reads the status (400: do not redeliver a forged body) and the JSON.
        return JsonResponse({"detail": error.message, "code": error.code}, status=400)
    event = outcome.event
    status = 500 if event.status == WebhookEvent.Status.FAILED else 200  # Stripe redelivers on 5xx
    return JsonResponse(
        {"id": event.stripe_event_id, "status": event.status, "duplicate": not outcome.created}, status=status
    )


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """The platform endpoint: events on Atelier's own Stripe account (transfers)."""
    return _webhook(request, PLATFORM)


@csrf_exempt
@require_POST
def stripe_connect_webhook(request):
    """The Connect endpoint: events on the artists' connected accounts (account.updated,
    payout.*), each naming its `account`, signed with the Connect endpoint's own secret."""
    return _webhook(request, CONNECT)
