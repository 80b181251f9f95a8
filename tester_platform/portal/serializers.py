"""Serializers of the artist's account API (tester_platform.portal.api): who I am, programs,
consent, the audit trail, usage."""

from __future__ import annotations

from rest_framework import serializers

from tester_platform.api.lookups import MAX_ID
from tester_platform.audit.models import AuditEvent
from tester_platform.consent.models import ConsentDocument, ConsentRecord
from tester_platform.programs.audit_sentences import Describer
from tester_platform.programs.models import Enrollment, Program
from tester_platform.studio.serializers import UsageInputSerializer, UsageShotSerializer


class ProgramSerializer(serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = [
            "id",
            "slug",
            "name",
            "status",
            "description",
            "model_profile",
            "daily_compute_seconds",
            "max_concurrent_jobs",
            "max_resolution",
            "max_duration_seconds",
            "share_review_hours",
            "share_approve_on_expiry",
        ]


class ProgramSwitchSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ProgramRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = ["id", "slug", "name", "status"]


class EnrollmentSerializer(serializers.ModelSerializer):
    program = ProgramRefSerializer()
    consent_active = serializers.BooleanField()

    class Meta:
        model = Enrollment
        fields = ["id", "program", "status", "created_at", "activated_at", "consent_active"]


class QuotaSerializer(serializers.Serializer):
    program = serializers.IntegerField()
    daily_compute_seconds = serializers.FloatField()
    compute_seconds_charged_today = serializers.FloatField()
    compute_seconds_left_today = serializers.FloatField()
    max_concurrent_jobs = serializers.IntegerField()
    active_jobs = serializers.IntegerField()
    concurrent_jobs_left = serializers.IntegerField()
    max_resolution = serializers.CharField()
    max_duration_seconds = serializers.IntegerField()
    resets_at = serializers.DateTimeField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    public_id = serializers.UUIDField()
    roles = serializers.ListField(child=serializers.CharField())
    enrollments = EnrollmentSerializer(many=True)
    quota = QuotaSerializer(many=True)


class ConsentDocumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentDocument
        fields = ["version", "title", "body", "sha256", "published_at"]


class ConsentRecordSerializer(serializers.ModelSerializer):
    document_version = serializers.IntegerField(source="document.version")

    class Meta:
        model = ConsentRecord
        fields = [
            "id",
            "kind",
            "document_version",
            "participation",
            "training_use",
            "marketing_use",
            "signed_at",
            "document_sha256",
        ]


class ConsentStateSerializer(serializers.Serializer):
    document = ConsentDocumentSerializer(allow_null=True)
    records = ConsentRecordSerializer(many=True)
    active = serializers.BooleanField()


class ConsentQuerySerializer(serializers.Serializer):
    program = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class ConsentSignSerializer(serializers.Serializer):
    program = serializers.IntegerField(min_value=1)
    document_version = serializers.IntegerField(min_value=1)
    participation = serializers.BooleanField()
    training_use = serializers.BooleanField(default=False)
    marketing_use = serializers.BooleanField(default=False)


class ConsentWithdrawSerializer(serializers.Serializer):
    program = serializers.IntegerField(min_value=1)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    sentence = serializers.SerializerMethodField()
    program = serializers.IntegerField(source="program_id", allow_null=True)
    # The one free-form object of the API, on purpose: each action records its own facts,
    # hashed into the audit chain as stored; `sentence` gives them in words.
    data = serializers.DictField(help_text="The action's own facts; their keys depend on `action`.")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "action",
            "sentence",
            "actor",
            "program",
            "target_type",
            "target_id",
            "data",
            "hash",
        ]

    def get_actor(self, event) -> str | None:
        return str(event.actor) if event.actor_id else None

    def get_sentence(self, event) -> str:
        """The event in words, for the person asking (the view describes each page at once)."""
        sentence = getattr(event, "sentence", None)
        if sentence is None:
            request = self.context.get("request")
            sentence = Describer(viewer=getattr(request, "user", None)).describe([event])[0].sentence
        return sentence


class AuditQuerySerializer(serializers.Serializer):
    program = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class UsageQuerySerializer(serializers.Serializer):
    program = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    to = serializers.DateField(required=False)

    def get_fields(self):
        # `from` is a Python keyword, so it cannot be declared as a class attribute.
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)
        return fields


class UsageTotalsSerializer(serializers.Serializer):
    jobs = serializers.IntegerField()
    compute_seconds = serializers.FloatField()
    wall_seconds = serializers.FloatField()
    queue_seconds = serializers.FloatField()
    frames = serializers.IntegerField()
    cancelled = serializers.IntegerField(help_text="How many of the jobs were cancelled.")


class ProgramQuotaSerializer(QuotaSerializer):
    program_name = serializers.CharField()


class UsageRecordSerializer(serializers.Serializer):
    generation = serializers.IntegerField(source="job_id")
    program = serializers.IntegerField(source="program_id")
    device = serializers.CharField(source="device_name")
    compute_seconds = serializers.FloatField()
    wall_seconds = serializers.FloatField()
    queue_seconds = serializers.FloatField()
    frames = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    steps = serializers.IntegerField()
    peak_memory_bytes = serializers.IntegerField()
    cancelled = serializers.BooleanField()
    shots = UsageShotSerializer(many=True)
    inputs = UsageInputSerializer(many=True)
    created_at = serializers.DateTimeField()


class UsageReportSerializer(serializers.Serializer):
    totals = UsageTotalsSerializer()
    quota = ProgramQuotaSerializer(many=True)
    records = UsageRecordSerializer(many=True)
