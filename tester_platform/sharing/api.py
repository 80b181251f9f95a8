"""Share-request endpoints of API v1."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from tester_platform.api.links import absolute
from tester_platform.api.lookups import QUEUE_PARAMETERS, queue_query, review_queue_or_403, visible_program_or_404
from tester_platform.api.models import ApiToken
from tester_platform.api.permissions import DEFAULT_PERMISSIONS
from tester_platform.sharing.models import ShareRequest
from tester_platform.sharing.selectors import moderation_queue
from tester_platform.sharing.services import (
    DECISIONS,
    can_review,
    policy_reasons,
    share_appeal_decide,
    share_request_appeal,
    share_request_create,
    share_request_decide,
    share_request_resubmit,
    share_request_revoke,
    share_request_withdraw,
)

REQUEST_ID = OpenApiParameter("id", int, OpenApiParameter.PATH)


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()


class AppealSerializer(serializers.Serializer):
    note = serializers.CharField(help_text="The artist's grounds.")
    appealed_at = serializers.DateTimeField()
    outcome = serializers.ChoiceField(
        choices=["upheld", "overturned"], allow_null=True, help_text="null while the appeal awaits a second moderator."
    )
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_note = serializers.CharField(allow_blank=True)


class ShareRequestSerializer(serializers.ModelSerializer):
    # null until a refusal (or a request for changes) cites a published reason
    reason_code = serializers.CharField(source="reason.code", default=None, allow_null=True)
    reason_label = serializers.CharField(source="reason.label", default=None, allow_null=True)
    public_url = serializers.SerializerMethodField()
    appeal = serializers.SerializerMethodField()

    class Meta:
        model = ShareRequest
        fields = [
            "id",
            "generation",
            "program",
            "caption",
            "destination",
            "status",
            "created_at",
            "submitted_at",
            "due_at",
            "decided_at",
            "auto_decided",
            "reason_code",
            "reason_label",
            "note",
            "public_url",
            "revoked_at",
            "appeal",
        ]

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_public_url(self, obj) -> str | None:
        if not obj.is_public:
            return None
        from django.urls import reverse

        return absolute(self.context, reverse("share_public", args=[obj.public_slug]))

    @extend_schema_field(AppealSerializer(allow_null=True))
    def get_appeal(self, obj) -> dict | None:
        if not obj.appealed_at:
            return None
        return {
            "note": obj.appeal_note,
            "appealed_at": obj.appealed_at,
            "outcome": obj.appeal_outcome or None,
            "decided_at": obj.appeal_decided_at,
            "decision_note": obj.appeal_decision_note,
        }


class ShareCreateSerializer(serializers.Serializer):
    generation = serializers.IntegerField(min_value=1)
    caption = serializers.CharField(max_length=500)
    destination = serializers.ChoiceField(choices=ShareRequest.Destination.choices)


class DecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=DECISIONS)
    reason_code = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=4000)


class ResubmitSerializer(serializers.Serializer):
    caption = serializers.CharField(max_length=500, required=False)


class AppealDecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["uphold", "overturn"])
    note = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class ShareRequestViewSet(viewsets.ViewSet):
    """The artist's own requests; moderators of a request's program may read and decide it."""

    permission_classes = DEFAULT_PERMISSIONS
    pagination_class = PageNumberPagination  # also tells the schema that `list` is paginated
    lookup_value_regex = r"[0-9]+"

    action_scopes = {
        "create": ApiToken.Scope.SHARE,
        "appeal": ApiToken.Scope.SHARE,
        "resubmit": ApiToken.Scope.SHARE,
        "revoke": ApiToken.Scope.SHARE,
        "withdraw": ApiToken.Scope.SHARE,
        "decide": ApiToken.Scope.REVIEW,
        "appeal_decide": ApiToken.Scope.REVIEW,
    }

    def _out(self, share_request, code=status.HTTP_200_OK):
        return Response(ShareRequestSerializer(share_request, context={"request": self.request}).data, status=code)

    def _visible(self, pk) -> ShareRequest:
        share_request = ShareRequest.objects.select_related("program", "reason").filter(pk=pk).first()
        if share_request is None or not (
            share_request.artist_id == self.request.user.pk
            or can_review(user=self.request.user, program=share_request.program)
        ):
            raise Http404("No such share request.")
        return share_request

    def _own(self, pk) -> ShareRequest:
        share_request = self._visible(pk)
        if share_request.artist_id != self.request.user.pk:
            raise Http404("No such share request among yours.")
        return share_request

    @extend_schema(parameters=QUEUE_PARAMETERS, responses=ShareRequestSerializer)
    def list(self, request):
        """Mine; with `queue=review`, the requests awaiting a decision (or an appeal) in the
        programs I moderate, soonest deadline first."""
        review, program_id = queue_query(request)
        if review:
            qs = review_queue_or_403(request.user, moderation_queue, program_id=program_id)
        else:
            qs = ShareRequest.objects.filter(artist=request.user).select_related("reason").order_by("-created_at")
            if program_id:
                qs = qs.filter(program_id=program_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(
            ShareRequestSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(request=ShareCreateSerializer, responses={201: ShareRequestSerializer})
    def create(self, request):
        data = ShareCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        share_request = share_request_create(
            artist=request.user,
            generation_id=data.validated_data["generation"],
            caption=data.validated_data["caption"],
            destination=data.validated_data["destination"],
        )
        return self._out(share_request, status.HTTP_201_CREATED)

    @extend_schema(parameters=[REQUEST_ID], responses=ShareRequestSerializer)
    def retrieve(self, request, pk=None):
        return self._out(self._visible(pk))

    @extend_schema(parameters=[REQUEST_ID], request=DecideSerializer, responses=ShareRequestSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        data = DecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        share_request = self._visible(pk)
        return self._out(
            share_request_decide(share_request=share_request, moderator=request.user, **data.validated_data)
        )

    @extend_schema(parameters=[REQUEST_ID], request=NoteSerializer, responses=ShareRequestSerializer)
    @action(detail=True, methods=["post"])
    def appeal(self, request, pk=None):
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._out(
            share_request_appeal(share_request=self._own(pk), artist=request.user, note=data.validated_data["note"])
        )

    @extend_schema(parameters=[REQUEST_ID], request=AppealDecideSerializer, responses=ShareRequestSerializer)
    @action(detail=True, methods=["post"], url_path="appeal/decide")
    def appeal_decide(self, request, pk=None):
        data = AppealDecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        share_request = self._visible(pk)
        return self._out(
            share_appeal_decide(
                share_request=share_request,
                moderator=request.user,
                overturn=data.validated_data["decision"] == "overturn",
                note=data.validated_data["note"],
            )
        )

    @extend_schema(parameters=[REQUEST_ID], request=ResubmitSerializer, responses=ShareRequestSerializer)
    @action(detail=True, methods=["post"])
    def resubmit(self, request, pk=None):
        data = ResubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._out(
            share_request_resubmit(
                share_request=self._own(pk), artist=request.user, caption=data.validated_data.get("caption")
            )
        )

    def _artist_transition(self, request, pk, service):
        # Parse the (empty) body so malformed JSON is a 400, not ignored.
        _ = request.data
        return self._out(service(share_request=self._own(pk), artist=request.user))

    @extend_schema(parameters=[REQUEST_ID], request=None, responses=ShareRequestSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        return self._artist_transition(request, pk, share_request_revoke)

    @extend_schema(parameters=[REQUEST_ID], request=None, responses=ShareRequestSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self._artist_transition(request, pk, share_request_withdraw)


class ProgramReasonsView(APIView):
    """The published reasons a share request of this program may be refused for (a refusal
    cites one by `code`); anyone who can see the program can read them."""

    permission_classes = DEFAULT_PERMISSIONS

    @extend_schema(responses=ReasonSerializer(many=True))
    def get(self, request, pk=None):
        program = visible_program_or_404(request.user, pk)
        return Response(ReasonSerializer(policy_reasons(program=program), many=True).data)
