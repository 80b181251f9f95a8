"""API v1 views: thin — validate, call a service or selector, serialize."""
from __future__ import annotations

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from tester_platform.accounts.roles import roles_of
from tester_platform.api import serializers as s
from tester_platform.api.authentication import client_ip
from tester_platform.api.lookups import pk_or_404
from tester_platform.api.models import ApiToken
from tester_platform.api.parsers import DepthLimitedJSONParser
from tester_platform.api.permissions import TokenHasScope
from tester_platform.api.services import otp_code_valid, token_create, token_revoke
from tester_platform.audit.selectors import audit_events_about, audit_events_for_program
from tester_platform.consent.models import ConsentRecord
from tester_platform.consent.services import active_consent, consent_sign, consent_withdraw, current_document
from tester_platform.errors import InvalidInput, NotAllowed
from tester_platform.policy import Act, can
from tester_platform.portal.selectors import quota_summaries
from tester_platform.programs.models import Enrollment, Program
from tester_platform.programs.selectors import programs_visible_to
from tester_platform.programs.services import program_set_paused

DEFAULT_PERMISSIONS = [IsAuthenticated, TokenHasScope]


class TokenView(APIView):
    """Exchange email + password for a bearer token, or revoke the token in use."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        return "Bearer"  # so a failed sign-in is a 401, not DRF's header-less 403

    @extend_schema(request=s.TokenRequestSerializer, responses={201: s.TokenResponseSerializer})
    def post(self, request):
        data = s.TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = authenticate(request._request, username=data.validated_data["email"].lower(),
                                password=data.validated_data["password"])
        except DjangoPermissionDenied:
            user = None
        if user is None:
            raise AuthenticationFailed("Email or password is wrong.")
        token, raw = token_create(user=user, name=data.validated_data.get("name", ""), ip_address=client_ip(request),
                                  second_factor=otp_code_valid(user=user, code=data.validated_data.get("otp")))
        return Response({"token": raw, "expires_at": token.expires_at, "scopes": token.scopes},
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None}, auth=[{"bearerAuth": []}],
                   description="Revokes the bearer token this request is authenticated with.")
    def delete(self, request):
        from tester_platform.api.authentication import BearerTokenAuthentication

        result = BearerTokenAuthentication().authenticate(request)
        if result is None:
            raise NotAuthenticated("Send the token to revoke as Authorization: Bearer <token>.")
        user, token = result
        token_revoke(token=token, actor=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
        program = program_set_paused(program=program, actor=request.user, paused=paused,
                                     reason=body.validated_data.get("reason", ""))
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

    @extend_schema(parameters=[OpenApiParameter("program", int, required=True)], responses=s.ConsentStateSerializer)
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
            artist=request.user, program=program, document_version=data.validated_data["document_version"],
            participation=data.validated_data["participation"], training_use=data.validated_data["training_use"],
            marketing_use=data.validated_data["marketing_use"], ip_address=client_ip(request),
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
        record = consent_withdraw(artist=request.user, program=program, ip_address=client_ip(request),
                                  user_agent=request.META.get("HTTP_USER_AGENT", ""))
        return Response(s.ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class AuditView(ListAPIView):
    """Events about me, or, for staff of a program (`?program=`), events of that program."""

    permission_classes = DEFAULT_PERMISSIONS
    serializer_class = s.AuditEventSerializer

    @extend_schema(parameters=[OpenApiParameter("program", int, required=False)])
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
        from tester_platform.audit.sentences import describe_events

        page = super().paginate_queryset(queryset)
        if page is not None:
            describe_events(page, viewer=self.request.user)
        return page


# --- generations ----------------------------------------------------------------------

JOB_ID = OpenApiParameter("id", int, OpenApiParameter.PATH)


class GenerationViewSet(viewsets.ViewSet):
    """The artist's own generations. Another artist's job answers 404."""

    permission_classes = DEFAULT_PERMISSIONS
    pagination_class = PageNumberPagination  # also tells the schema that `list` is paginated
    lookup_value_regex = r"[0-9]+"

    action_scopes = {"create": ApiToken.Scope.GENERATE, "cancel": ApiToken.Scope.GENERATE}

    def get_throttles(self):
        from tester_platform.access.throttles import GenerationSubmitThrottle

        throttles = super().get_throttles()
        return throttles + [GenerationSubmitThrottle()] if self.action == "create" else throttles

    def _serialize(self, job, **kwargs):
        return s.GenerationSerializer(job, context={"request": self.request}, **kwargs).data

    @extend_schema(responses=s.GenerationSerializer)
    def list(self, request):
        from generation.selectors import jobs_for_artist

        jobs = jobs_for_artist(artist=request.user).order_by("-created_at")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response(self._serialize(page, many=True))

    @extend_schema(parameters=[JOB_ID], responses=s.GenerationSerializer)
    def retrieve(self, request, pk=None):
        from tester_platform.studio.services import generation_for_user

        job = generation_for_user(user=request.user, job_id=pk_or_404(pk))
        return Response(self._serialize(job))

    @extend_schema(request=s.GenerationCreateSerializer, responses={201: s.GenerationSerializer})
    def create(self, request):
        from tester_platform.studio.services import generation_submit

        data = s.GenerationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        program = Program.objects.filter(pk=values.pop("program")).first()
        if program is None or not program.enrollments.filter(artist=request.user).exists():
            raise NotAllowed("You are not enrolled in this program.", field="program", code="not_enrolled")
        job = generation_submit(artist=request.user, program=program, **values)
        return Response(self._serialize(job), status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[JOB_ID], request=None, responses=s.GenerationSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        from tester_platform.studio.services import generation_cancel, generation_for_user

        job = generation_for_user(user=request.user, job_id=pk_or_404(pk))
        job = generation_cancel(user=request.user, job=job)
        return Response(self._serialize(job))

    @extend_schema(parameters=[JOB_ID], summary="Download the signed MP4 of a generation",
                   description="The output video with its provenance manifest, as an attachment. Honours "
                               "`Range: bytes=…` (206 with `Content-Range`; 416 when unsatisfiable).",
                   responses={(200, "video/mp4"): OpenApiTypes.BINARY, (206, "video/mp4"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        return self._file(request, pk, "video")

    @extend_schema(parameters=[JOB_ID], summary="Download the still an image-to-video generation started from",
                   responses={(200, "image/png"): OpenApiTypes.BINARY, (206, "image/png"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="input-image", url_name="input-image")
    def input_image(self, request, pk=None):
        return self._file(request, pk, "input")

    def _file(self, request, pk, kind: str):
        from tester_platform.studio.media import media_file_response
        from tester_platform.studio.services import generation_for_user

        job = generation_for_user(user=request.user, job_id=pk_or_404(pk))
        return media_file_response(request._request, job=job, kind=kind, as_attachment=True)



class ImageUploadView(APIView):
    """Upload a still to start a video (image_to_video) or a storyboard shot from. Its type
    is checked by decoding; it is stored re-encoded without EXIF, privately, and named by
    its hash in the manifest of every video made from it. Nothing is stored when refused."""

    permission_classes = DEFAULT_PERMISSIONS
    required_scope = ApiToken.Scope.GENERATE
    # Multipart carries the file; a JSON body (no file) is parsed only to answer clearly.
    parser_classes = [MultiPartParser, DepthLimitedJSONParser]

    @extend_schema(request={"multipart/form-data": s.ImageUploadSerializer}, responses={201: s.InputImageSerializer})
    def post(self, request):
        from generation.images import limits
        from tester_platform.studio.services import generation_image_upload

        raw_program = request.data.get("program")
        program = Program.objects.filter(pk=int(raw_program)).first() \
            if str(raw_program or "").isdigit() and len(str(raw_program)) < 12 else None
        if program is not None and not program.enrollments.filter(artist=request.user).exists():
            # Who may upload is decided before what was uploaded is looked at.
            raise NotAllowed("You are not enrolled in this program.", field="program", code="not_enrolled")
        data = s.ImageUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if program is None:
            raise NotAllowed("You are not enrolled in this program.", field="program", code="not_enrolled")
        upload = values["image"]
        if upload.size > limits().max_bytes:
            raise InvalidInput(f"The image is {upload.size / 1e6:.1f} MB; at most {limits().max_bytes / 1e6:.0f} MB "
                               "is accepted.", field="image")
        image = generation_image_upload(artist=request.user, program=program, data=upload.read(),
                                        filename=upload.name or "", rights_attested=values["rights_attested"])
        return Response(s.InputImageSerializer(image).data, status=status.HTTP_201_CREATED)


class UsageView(APIView):
    """Totals, quota and per-job usage records of the requesting artist."""

    permission_classes = DEFAULT_PERMISSIONS

    @extend_schema(parameters=[OpenApiParameter("program", int), OpenApiParameter("from", str),
                               OpenApiParameter("to", str)], responses=s.UsageReportSerializer)
    def get(self, request):
        import datetime as dt

        from rest_framework.exceptions import ValidationError

        from generation.selectors import usage_records, usage_totals
        from tester_platform.studio.selectors import quota_for

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
        start_dt = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC) if start else None
        try:
            end_dt = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC) if end else None
        except OverflowError:  # `to` is the last day of year 9999: there is no day after it
            raise ValidationError({"to": [f"Enter a date before {dt.date.max.isoformat()}."]}) from None
        records = usage_records(artist=request.user, program_id=program_id, start=start_dt, end=end_dt).order_by(
            "-created_at")[:500]
        return Response({
            "totals": usage_totals(artist=request.user, program_id=program_id, start=start_dt, end=end_dt),
            "quota": [quota_for(artist=request.user, program=p) for p in programs],
            "records": [{"generation": r.job_id, "program": r.program_id, "device": r.device_name,
                         "compute_seconds": r.compute_seconds, "wall_seconds": r.wall_seconds,
                         "queue_seconds": r.queue_seconds, "frames": r.frames, "width": r.width, "height": r.height,
                         "steps": r.steps, "peak_memory_bytes": r.peak_memory_bytes, "cancelled": r.cancelled,
                         "shots": r.shots, "inputs": r.inputs, "created_at": r.created_at} for r in records],
        })
