from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from payments.models import Payout, PayoutRun
from tester_platform.api.links import absolute
from tester_platform.api.lookups import MAX_ID


class PayoutAccountSerializer(serializers.Serializer):
    connected = serializers.BooleanField()
    stripe_account_id = serializers.CharField(allow_null=True)
    details_submitted = serializers.BooleanField()
    payouts_enabled = serializers.BooleanField()
    requirements = serializers.ListField(
        child=serializers.CharField(), help_text="Stripe's requirements.currently_due (and past_due)."
    )
    disabled_reason = serializers.CharField(allow_blank=True, help_text="Stripe's requirements.disabled_reason.")
    missing = serializers.ListField(child=serializers.CharField(), help_text="What Stripe still needs, in words.")


class OnboardingSerializer(serializers.Serializer):
    onboarding_url = serializers.URLField()
    stripe_account_id = serializers.CharField()


class PayoutLineSerializer(serializers.Serializer):
    program = serializers.IntegerField(source="program_id")
    amount = serializers.IntegerField(source="amount_minor")


class PayoutSerializer(serializers.ModelSerializer):
    # Plain strings in the schema: a second enum named "status" collides with the others
    # (drf-spectacular W001); see the note about ENUM_NAME_OVERRIDES in the finance report.
    status = serializers.CharField(
        read_only=True,
        help_text="pending (planned) | sent (in your Stripe balance) | in_transit (Stripe's payout "
        "to your bank) | arrived | bank_failed (your bank returned it: see failure_reason) "
        "| failed (not sent) | reversed | discarded",
    )
    amount = serializers.IntegerField(source="amount_minor", help_text="Minor units (cents).")
    amount_display = serializers.CharField()
    run = serializers.IntegerField(source="run_id")
    period_end = serializers.DateField(source="run.period_end")
    lines = PayoutLineSerializer(many=True)
    statement_url = serializers.SerializerMethodField()

    class Meta:
        model = Payout
        fields = [
            "id",
            "amount",
            "amount_display",
            "currency",
            "status",
            "failure_code",
            "failure_reason",
            "stripe_transfer_id",
            "run",
            "period_end",
            "lines",
            "created_at",
            "sent_at",
            "in_transit_at",
            "arrival_date",
            "paid_at",
            "failed_at",
            "statement_url",
        ]

    @extend_schema_field(serializers.URLField())
    def get_statement_url(self, obj) -> str:
        """The statement as PDF through the API (a bearer token with `read` opens it)."""
        return absolute(self.context, reverse("api:finance_api:payout-statement", args=[obj.pk]))


class RunPayoutSerializer(serializers.ModelSerializer):
    status = serializers.CharField(
        read_only=True, help_text="pending | sent | in_transit | arrived | bank_failed | failed | reversed | discarded"
    )
    amount = serializers.IntegerField(source="amount_minor")
    artist = serializers.IntegerField(source="artist_id")

    class Meta:
        model = Payout
        fields = [
            "id",
            "artist",
            "amount",
            "currency",
            "status",
            "failure_code",
            "failure_reason",
            "stripe_transfer_id",
        ]


class SkippedSerializer(serializers.Serializer):
    artist_id = serializers.IntegerField()
    currency = serializers.CharField()
    unpaid_minor = serializers.IntegerField()
    code = serializers.CharField()
    reason = serializers.CharField()
    program_id = serializers.IntegerField(allow_null=True, required=False)


class AttemptSerializer(serializers.Serializer):
    trigger = serializers.CharField()
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField()
    recorded = serializers.IntegerField()
    error = serializers.CharField()


class PayoutRunSerializer(serializers.ModelSerializer):
    status = serializers.CharField(
        read_only=True,
        help_text="prepared (awaiting approval) | approved | running | done | "
        "done_with_failures | interrupted (resumes by itself) | discarded",
    )
    program = serializers.IntegerField(source="program_id", allow_null=True)
    prepared_by = serializers.IntegerField(source="created_by_id", allow_null=True)
    approved_by = serializers.IntegerField(source="approved_by_id", allow_null=True)
    total = serializers.DictField(
        source="total_minor", child=serializers.IntegerField(), help_text="Planned total per currency, minor units."
    )
    skipped = SkippedSerializer(many=True)
    payouts = RunPayoutSerializer(many=True)
    attempts = AttemptSerializer(many=True)
    preview_digest = serializers.SerializerMethodField()
    report_csv = serializers.SerializerMethodField()
    report_pdf = serializers.SerializerMethodField()

    class Meta:
        model = PayoutRun
        fields = [
            "id",
            "program",
            "period_end",
            "status",
            "created_at",
            "prepared_by",
            "approved_by",
            "approved_at",
            "started_at",
            "finished_at",
            "payout_count",
            "total",
            "skipped",
            "payouts",
            "attempts",
            "last_error",
            "preview_digest",
            "report_csv",
            "report_pdf",
        ]

    def get_preview_digest(self, obj) -> str:
        from payments.payouts import run_preview_digest

        return run_preview_digest(run_id=obj.pk)

    @extend_schema_field(serializers.URLField())
    def get_report_csv(self, obj) -> str:
        """The run's report as CSV through the API (a bearer token needs `finance`)."""
        return absolute(self.context, reverse("api:finance_api:payout-run-report-csv", args=[obj.pk]))

    @extend_schema_field(serializers.URLField())
    def get_report_pdf(self, obj) -> str:
        return absolute(self.context, reverse("api:finance_api:payout-run-report-pdf", args=[obj.pk]))


class PayoutRunCreateSerializer(serializers.Serializer):
    program = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)
    period_end = serializers.DateField(
        required=False, allow_null=True, help_text="Default: the end of the last closed period (last Sunday)."
    )


class PayoutRunApproveSerializer(serializers.Serializer):
    digest = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The run's preview_digest as you read it: approval fails if it changed.",
    )


class PeriodReportQuerySerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    program = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    def validate(self, data):
        import datetime as dt

        if data["start"] > data["end"]:
            raise serializers.ValidationError({"end": ["The period starts after it ends."]})
        if data["end"] - data["start"] > dt.timedelta(days=3660):
            raise serializers.ValidationError({"end": ["A period is at most ten years."]})
        return data
