"""The artist's account API, beside the portal's pages of the same things: who I am and my
quota, programs (and their kill switch, for their managers), consent, the audit trail about
me (or, for staff, about a program), usage, and the export of everything (reads need the
`read` scope; see tester_platform.api.permissions). The core apps sit below the API layer,
so the endpoints over their services are composed here."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from generation.selectors import usage_records, usage_totals
from tester_platform.accounts.roles import roles_of
from tester_platform.api.models import ApiToken
from tester_platform.api.permissions import DEFAULT_PERMISSIONS
from tester_platform.audit.selectors import audit_events_about, audit_events_for_program
from tester_platform.common.days import day_start
from tester_platform.common.http import client_ip
from tester_platform.consent.models import ConsentRecord
from tester_platform.consent.services import active_consent, consent_sign, consent_withdraw, current_document
from tester_platform.policy import Act, can
from tester_platform.portal import serializers as s
from tester_platform.portal.export import export_filename, export_zip
from tester_platform.portal.selectors import quota_summaries
from tester_platform.programs.audit_sentences import describe_events
from tester_platform.programs.models import Enrollment, Program
from tester_platform.programs.selectors import programs_visible_to
from tester_platform.programs.services import program_set_paused
from tester_platform.studio.selectors import quota_for


class MeView(APIView):
    permission_classes = DEFAULT_PERMISSIONS

    @extend_schema(responses=s.MeSerializer)
    def get(self, request):
        user = request.user
        enrollments = list(Enrollment.objects.filter(artist=user).select_related("program"))
        for enrollment in enrollments:
            enrollment.consent_active = active_consent(artist=user, program=enrollment.program) is not None
        payload = {
            "id": user.pk,
            "email": user.email,
            "display_name": user.display_name,
            "public_id": user.public_id,
            "roles": sorted(roles_of(user)),
            "enrollments": enrollments,
            "quota": quota_summaries(artist=user, enrollments=enrollments),
        }
        return Response(s.MeSerializer(payload).data)


class ProgramViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ProgramSerializer
    permission_classes = DEFAULT_PERMISSIONS
    action_scopes = {"pause": ApiToken.Scope.PROGRAMS, "resume": ApiToken.Scope.PROGRAMS}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Program.objects.none()
        return programs_visible_to(user=self.request.user).order_by("id")

    def _set_paused(self, request, paused: bool):
        body = s.ProgramSwitchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        program = self.get_object()
        program = program_set_paused(
            program=program, actor=request.user, paused=paused, reason=body.validated_data.get("reason", "")
        )
        return Response(s.ProgramSerializer(program).data)

    @extend_schema(request=s.ProgramSwitchSerializer, responses=s.ProgramSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._set_paused(request, True)

    @extend_schema(request=s.ProgramSwitchSerializer, responses=s.ProgramSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._set_paused(request, False)


def _program_for_artist(user, program_id: int) -> Program:
    """The program, if the user is enrolled in it; otherwise 404 (no existence leak)."""
    program = Program.objects.filter(pk=program_id, enrollments__artist=user).first()
    if program is None:
        raise Http404("No such program among yours.")
    return program


class ConsentView(APIView):
    permission_classes = DEFAULT_PERMISSIONS
    required_scope = ApiToken.Scope.CONSENT

    @extend_schema(parameters=[s.ConsentQuerySerializer], responses=s.ConsentStateSerializer)
    def get(self, request):
        query = s.ConsentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        program = _program_for_artist(request.user, query.validated_data["program"])
        records = ConsentRecord.objects.filter(artist=request.user, program=program).select_related("document")
        payload = {
            "document": current_document(program=program),
            "records": records,
            "active": active_consent(artist=request.user, program=program) is not None,
        }
        return Response(s.ConsentStateSerializer(payload).data)

    @extend_schema(request=s.ConsentSignSerializer, responses={201: s.ConsentRecordSerializer})
    def post(self, request):
        data = s.ConsentSignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        program = _program_for_artist(request.user, data.validated_data["program"])
        record = consent_sign(
            artist=request.user,
            program=program,
            document_version=data.validated_data["document_version"],
            participation=data.validated_data["participation"],
            training_use=data.validated_data["training_use"],
            marketing_use=data.validated_data["marketing_use"],
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(s.ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class ConsentWithdrawView(APIView):
    permission_classes = DEFAULT_PERMISSIONS
    required_scope = ApiToken.Scope.CONSENT

    @extend_schema(request=s.ConsentWithdrawSerializer, responses={201: s.ConsentRecordSerializer})
    def post(self, request):
        data = s.ConsentWithdrawSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        program = _program_for_artist(request.user, data.validated_data["program"])
        record = consent_withdraw(
            artist=request.user,
            program=program,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(s.ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class AuditView(ListAPIView):
    """Events about me, or, for staff of a program (`?program=`), events of that program."""

    permission_classes = DEFAULT_PERMISSIONS
    serializer_class = s.AuditEventSerializer

    @extend_schema(parameters=[s.AuditQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = s.AuditQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        program_id = query.validated_data.get("program")
        user = self.request.user
        if program_id is None:
            return audit_events_about(user=user)
        program = Program.objects.filter(pk=program_id).first()
        if program is None or not can(user, Act.READ, program=program):
            raise Http404("No such program among those you staff.")
        return audit_events_for_program(program=program)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            describe_events(page, viewer=self.request.user)
        return page


class UsageView(APIView):
    """Totals, quota and per-job usage records of the requesting artist."""

    permission_classes = DEFAULT_PERMISSIONS

    @extend_schema(parameters=[s.UsageQuerySerializer], responses=s.UsageReportSerializer)
    def get(self, request):
        query = s.UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        program_id = query.validated_data.get("program")
        programs = Program.objects.filter(enrollments__artist=request.user)
        if program_id is not None:
            programs = programs.filter(pk=program_id)
            if not programs.exists():
                raise Http404("No such program among yours.")
        start = query.validated_data.get("from")
        end = query.validated_data.get("to")
        start_dt = day_start(start) if start else None  # whole local days, as everywhere (common/days.py)
        try:
            end_dt = day_start(end + dt.timedelta(days=1)) if end else None
        except OverflowError:  # `to` is the last day of year 9999: there is no day after it
            raise ValidationError({"to": [f"Enter a date before {dt.date.max.isoformat()}."]}) from None
        records = usage_records(artist=request.user, program_id=program_id, start=start_dt, end=end_dt).order_by(
            "-created_at"
        )[:500]
        return Response(
            s.UsageReportSerializer(
                {
                    "totals": usage_totals(artist=request.user, program_id=program_id, start=start_dt, end=end_dt),
                    "quota": [quota_for(artist=request.user, program=p) for p in programs],
                    "records": records,
                }
            ).data
        )


class MeExportView(APIView):
    permission_classes = DEFAULT_PERMISSIONS

    @extend_schema(
        summary="Download everything Atelier holds about you (ZIP)",
        description="One JSON file per kind of record and a CSV for the tabular ones, the audit chain head at export "
        "time in manifest.json, and links to your own videos.",
        responses={(200, "application/zip"): OpenApiResponse(response=OpenApiTypes.BINARY)},
    )
    def get(self, request):
        response = HttpResponse(export_zip(request.user), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(request.user)}"'
        response["Cache-Control"] = "no-store"
        return response
