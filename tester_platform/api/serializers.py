from __future__ import annotations

from rest_framework import serializers

from tester_platform.audit.models import AuditEvent
from tester_platform.consent.models import ConsentDocument, ConsentRecord
from tester_platform.programs.models import Enrollment, Program


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=200, trim_whitespace=False)
    name = serializers.CharField(max_length=80, required=False, allow_blank=True)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    scopes = serializers.ListField(child=serializers.CharField())


class ProgramSerializer(serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = ["id", "slug", "name", "status", "description", "model_profile", "daily_compute_seconds",
                  "max_concurrent_jobs", "max_resolution", "max_duration_seconds", "share_review_hours",
                  "share_approve_on_expiry"]


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
    daily_compute_seconds = serializers.IntegerField()
    compute_seconds_left_today = serializers.IntegerField()
    max_concurrent_jobs = serializers.IntegerField()
    max_resolution = serializers.CharField()
    max_duration_seconds = serializers.IntegerField()


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
        fields = ["id", "kind", "document_version", "participation", "training_use", "marketing_use", "signed_at",
                  "document_sha256"]


class ConsentStateSerializer(serializers.Serializer):
    document = ConsentDocumentSerializer(allow_null=True)
    records = ConsentRecordSerializer(many=True)
    active = serializers.BooleanField()


class ConsentQuerySerializer(serializers.Serializer):
    program = serializers.IntegerField(min_value=1)


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
    program = serializers.IntegerField(source="program_id", allow_null=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "action", "actor", "program", "target_type", "target_id", "data", "hash"]

    def get_actor(self, event) -> str | None:
        return str(event.actor) if event.actor_id else None


class AuditQuerySerializer(serializers.Serializer):
    program = serializers.IntegerField(min_value=1, required=False)
