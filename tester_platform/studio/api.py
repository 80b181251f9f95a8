"""The studio's API: the artist's generations (list, create, cancel, download) and the stills
they start from. Thin views: validate, call a studio service, serialize."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from generation.images import limits
from generation.selectors import jobs_for_artist
from tester_platform.access.throttles import GenerationSubmitThrottle
from tester_platform.api.lookups import pk_or_404
from tester_platform.api.models import ApiToken
from tester_platform.api.negotiation import FileDownloadNegotiation
from tester_platform.api.parsers import DepthLimitedJSONParser
from tester_platform.api.permissions import DEFAULT_PERMISSIONS
from tester_platform.errors import InvalidInput, NotAllowed
from tester_platform.programs.models import Program
from tester_platform.studio import serializers as s
from tester_platform.studio.media import media_file_response
from tester_platform.studio.services import (
    generation_cancel,
    generation_for_user,
    generation_image_upload,
    generation_submit,
)

JOB_ID = OpenApiParameter("id", int, OpenApiParameter.PATH)
STORAGE_REDIRECT = OpenApiResponse(
    description="Where the deployment serves media from its storage "
    "(MEDIA_SERVE=storage-url): `Location` is a signed URL valid for "
    "minutes."
)


class GenerationViewSet(viewsets.ViewSet):
    """The artist's own generations. Another artist's job answers 404."""

    permission_classes = DEFAULT_PERMISSIONS
    pagination_class = PageNumberPagination  # also tells the schema that `list` is paginated
    lookup_value_regex = r"[0-9]+"

    action_scopes = {"create": ApiToken.Scope.GENERATE, "cancel": ApiToken.Scope.GENERATE}

    def get_throttles(self):
        throttles = super().get_throttles()
        return throttles + [GenerationSubmitThrottle()] if self.action == "create" else throttles

    def _serialize(self, job, **kwargs):
        return s.GenerationSerializer(job, context={"request": self.request}, **kwargs).data

    @extend_schema(responses=s.GenerationSerializer)
    def list(self, request):
        jobs = jobs_for_artist(artist=request.user).order_by("-created_at")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response(self._serialize(page, many=True))

    @extend_schema(parameters=[JOB_ID], responses=s.GenerationSerializer)
    def retrieve(self, request, pk=None):
        job = generation_for_user(user=request.user, job_id=pk_or_404(pk))
        return Response(self._serialize(job))

    @extend_schema(request=s.GenerationCreateSerializer, responses={201: s.GenerationSerializer})
    def create(self, request):
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
        job = generation_for_user(user=request.user, job_id=pk_or_404(pk))
        job = generation_cancel(user=request.user, job=job)
        return Response(self._serialize(job))

    @extend_schema(
        parameters=[JOB_ID],
        summary="Download the signed MP4 of a generation",
        description="The output video with its provenance manifest, as an attachment. Honours "
        "`Range: bytes=…` (206 with `Content-Range`; 416 when unsatisfiable).",
        responses={
            (200, "video/mp4"): OpenApiTypes.BINARY,
            (206, "video/mp4"): OpenApiTypes.BINARY,
            302: STORAGE_REDIRECT,
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=FileDownloadNegotiation)
    def download(self, request, pk=None):
        return self._file(request, pk, "video")

    @extend_schema(
        parameters=[JOB_ID],
        summary="Download the still an image-to-video generation started from",
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            (206, "image/png"): OpenApiTypes.BINARY,
            302: STORAGE_REDIRECT,
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="input-image",
        url_name="input-image",
        content_negotiation_class=FileDownloadNegotiation,
    )
    def input_image(self, request, pk=None):
        return self._file(request, pk, "input")

    def _file(self, request, pk, kind: str):
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
        raw_program = request.data.get("program")
        program = (
            Program.objects.filter(pk=int(raw_program)).first()
            if str(raw_program or "").isdigit() and len(str(raw_program)) < 12
            else None
        )
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
            raise InvalidInput(
                f"The image is {upload.size / 1e6:.1f} MB; at most {limits().max_bytes / 1e6:.0f} MB is accepted.",
                field="image",
            )
        image = generation_image_upload(
            artist=request.user,
            program=program,
            data=upload.read(),
            filename=upload.name or "",
            rights_attested=values["rights_attested"],
        )
        return Response(s.InputImageSerializer(image).data, status=status.HTTP_201_CREATED)
