"""API v1 for payouts: the artist's payout account and payouts; finance's payout runs."""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.models import Payout, PayoutRun
from payments.payouts import connected_account_for
from payments.selectors import payouts_for_artist
from tester_platform.accounts.roles import ADMIN, FINANCE, has_role
from tester_platform.api.lookups import pk_or_404
from tester_platform.api.models import ApiToken
from tester_platform.api.negotiation import FileDownloadNegotiation
from tester_platform.api.permissions import DEFAULT_PERMISSIONS
from tester_platform.finance import serializers as s
from tester_platform.finance.onboarding import is_artist
from tester_platform.finance.services import (
    payout_account_connect,
    payout_run_approve,
    payout_run_discard,
    payout_run_prepare,
)
from tester_platform.programs.models import Program

ITEM_ID = OpenApiParameter("id", int, OpenApiParameter.PATH)
PDF = {(200, "application/pdf"): OpenApiTypes.BINARY}
CSV = {(200, "text/csv"): OpenApiTypes.BINARY}


class PayoutAccountView(APIView):
    """The artist's Stripe payout account: its state (GET), or an onboarding link (POST)."""

    permission_classes = DEFAULT_PERMISSIONS

    @extend_schema(responses=s.PayoutAccountSerializer)
    def get(self, request):
        account = connected_account_for(artist=request.user)
        return Response(
            s.PayoutAccountSerializer(
                {
                    "connected": account is not None,
                    "stripe_account_id": account.stripe_account_id if account else None,
                    "details_submitted": bool(account and account.details_submitted),
                    "payouts_enabled": bool(account and account.payouts_enabled),
                    "requirements": list(account.requirements_due) if account else [],
                    "disabled_reason": account.disabled_reason if account else "",
                    "missing": account.missing if account else ["Connect a payout account"],
                }
            ).data
        )

    @extend_schema(request=None, responses={201: s.OnboardingSerializer})
    def post(self, request):
        if isinstance(request.auth, ApiToken):
            # An onboarding link lets its holder enter bank details for this artist: it is
            # handed out to a signed-in browser session only, never to a bearer token.
            raise PermissionDenied("Connect your payout account from the web app, signed in.")
        if not is_artist(request.user):
            raise PermissionDenied("Payout accounts are for artists.")
        refresh = request.build_absolute_uri(reverse("finance:payout_refresh"))
        back = request.build_absolute_uri(reverse("finance:payout_return"))
        account, url = payout_account_connect(artist=request.user, refresh_url=refresh, return_url=back)
        return Response(
            {"onboarding_url": url, "stripe_account_id": account.stripe_account_id}, status=status.HTTP_201_CREATED
        )


class PayoutViewSet(viewsets.ViewSet):
    """The requesting artist's payouts, newest first (amounts in minor units)."""

    permission_classes = DEFAULT_PERMISSIONS
    lookup_value_regex = r"[0-9]+"
    pagination_class = PageNumberPagination

    @extend_schema(responses=s.PayoutSerializer(many=True))
    def list(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(payouts_for_artist(artist=request.user), request, view=self)
        return paginator.get_paginated_response(s.PayoutSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(parameters=[ITEM_ID], responses=s.PayoutSerializer)
    def retrieve(self, request, pk=None):
        payout = payouts_for_artist(artist=request.user).filter(pk=pk_or_404(pk)).first()
        if payout is None:
            raise Http404("No such payout.")
        return Response(s.PayoutSerializer(payout, context={"request": request}).data)

    @extend_schema(
        parameters=[ITEM_ID],
        responses=PDF,
        summary="The payout's statement as PDF",
        description="Every ledger line the payout pays. Your own payouts (finance reads any); "
        "another artist's answers 404.",
    )
    @action(detail=True, methods=["get"], content_negotiation_class=FileDownloadNegotiation)
    def statement(self, request, pk=None):
        from tester_platform.finance.views import statement_pdf_response

        payout = (
            Payout.objects.select_related("artist", "run", "run__program", "connected_account")
            .filter(pk=pk_or_404(pk))
            .first()
        )
        if payout is None or (payout.artist_id != request.user.pk and not has_role(request.user, FINANCE, ADMIN)):
            raise Http404("No such payout.")
        return statement_pdf_response(payout)


class PayoutRunViewSet(viewsets.ViewSet):
    """Finance: prepare a payout run (a preview: nothing is sent), approve it as a second
    finance user (then the transfers are created), or discard it; read one."""

    permission_classes = DEFAULT_PERMISSIONS
    lookup_value_regex = r"[0-9]+"
    pagination_class = PageNumberPagination
    action_scopes = {
        "create": ApiToken.Scope.FINANCE,
        "approve": ApiToken.Scope.FINANCE,
        "discard": ApiToken.Scope.FINANCE,
    }
    # The reports name every artist paid and how much: a token needs `finance` to read them.
    read_scopes = {
        "report_csv": ApiToken.Scope.FINANCE,
        "report_pdf": ApiToken.Scope.FINANCE,
        "period_report_csv": ApiToken.Scope.FINANCE,
        "period_report_pdf": ApiToken.Scope.FINANCE,
    }

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not has_role(request.user, FINANCE, ADMIN):
            raise PermissionDenied("Payout runs are for finance.")

    def _queryset(self):
        return PayoutRun.objects.select_related("program").prefetch_related("payouts", "attempts")

    def _run(self, pk) -> PayoutRun:
        run = self._queryset().filter(pk=pk_or_404(pk)).first()
        if run is None:
            raise Http404("No such payout run.")
        return run

    @extend_schema(responses=s.PayoutRunSerializer(many=True))
    def list(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(self._queryset().order_by("-created_at", "-id"), request, view=self)
        return paginator.get_paginated_response(
            s.PayoutRunSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(request=s.PayoutRunCreateSerializer, responses={201: s.PayoutRunSerializer})
    def create(self, request):
        data = s.PayoutRunCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        program = None
        if data.validated_data.get("program"):
            program = Program.objects.filter(pk=data.validated_data["program"]).first()
            if program is None:
                return Response({"program": ["No such program."], "code": "invalid"}, status=400)
        run = payout_run_prepare(actor=request.user, period_end=data.validated_data.get("period_end"), program=program)
        return Response(
            s.PayoutRunSerializer(self._queryset().get(pk=run.pk), context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(parameters=[ITEM_ID], responses=s.PayoutRunSerializer)
    def retrieve(self, request, pk=None):
        return Response(s.PayoutRunSerializer(self._run(pk), context={"request": request}).data)

    @extend_schema(parameters=[ITEM_ID], request=s.PayoutRunApproveSerializer, responses=s.PayoutRunSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """A finance user other than the preparer approves the previewed amounts (send the
        run's `preview_digest` to approve exactly what you read); the transfers follow."""
        run = self._run(pk)
        data = s.PayoutRunApproveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = payout_run_approve(actor=request.user, run=run, digest=data.validated_data.get("digest") or None)
        return Response(s.PayoutRunSerializer(self._queryset().get(pk=run.pk), context={"request": request}).data)

    @extend_schema(parameters=[ITEM_ID], request=None, responses=s.PayoutRunSerializer)
    @action(detail=True, methods=["post"])
    def discard(self, request, pk=None):
        """Drop a run awaiting approval; nothing was sent and the money stays owed."""
        run = payout_run_discard(actor=request.user, run=self._run(pk))
        return Response(s.PayoutRunSerializer(self._queryset().get(pk=run.pk), context={"request": request}).data)

    @extend_schema(parameters=[ITEM_ID], responses=CSV, summary="The run's report as CSV")
    @action(
        detail=True,
        methods=["get"],
        url_path="report/csv",
        url_name="report-csv",
        content_negotiation_class=FileDownloadNegotiation,
    )
    def report_csv(self, request, pk=None):
        from tester_platform.finance.views import run_report_response

        return run_report_response(self._run(pk), "csv")

    @extend_schema(parameters=[ITEM_ID], responses=PDF, summary="The run's report as PDF")
    @action(
        detail=True,
        methods=["get"],
        url_path="report/pdf",
        url_name="report-pdf",
        content_negotiation_class=FileDownloadNegotiation,
    )
    def report_pdf(self, request, pk=None):
        from tester_platform.finance.views import run_report_response

        return run_report_response(self._run(pk), "pdf")

    def _period_report(self, request, kind: str):
        from tester_platform.finance.views import period_report_response

        query = s.PeriodReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        program = None
        if query.validated_data.get("program"):
            program = Program.objects.filter(pk=query.validated_data["program"]).first()
            if program is None:
                raise Http404("No such program.")
        return period_report_response(
            start=query.validated_data["start"], end=query.validated_data["end"], program=program, kind=kind
        )

    @extend_schema(
        parameters=[s.PeriodReportQuerySerializer], responses=CSV, summary="Payouts of a period (every run), as CSV"
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="period-report/csv",
        url_name="period-report-csv",
        pagination_class=None,
        content_negotiation_class=FileDownloadNegotiation,
    )
    def period_report_csv(self, request):
        return self._period_report(request, "csv")

    @extend_schema(
        parameters=[s.PeriodReportQuerySerializer], responses=PDF, summary="Payouts of a period (every run), as PDF"
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="period-report/pdf",
        url_name="period-report-pdf",
        pagination_class=None,
        content_negotiation_class=FileDownloadNegotiation,
    )
    def period_report_pdf(self, request):
        return self._period_report(request, "pdf")
