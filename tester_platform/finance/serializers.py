from __future__ import annotations

from rest_framework import serializers

from payments.models import Payout, PayoutRun

from tester_platform.api.lookups import MAX_ID


class PayoutAccountSerializer(serializers.Serializer):
    connected = serializers.BooleanField()
    stripe_account_id = serializers.CharField(allow_null=True)
    details_submitted = serializers.BooleanField()
    payouts_enabled = serializers.BooleanField()
    requirements = serializers.ListField(child=serializers.CharField())
    missing = serializers.ListField(child=serializers.CharField())


class OnboardingSerializer(serializers.Serializer):
    onboarding_url = serializers.URLField()
    stripe_account_id = serializers.CharField()


class PayoutLineSerializer(serializers.Serializer):
    program = serializers.IntegerField(source="program_id")
    amount = serializers.IntegerField(source="amount_minor")


class PayoutSerializer(serializers.ModelSerializer):
    # Plain strings in the schema: a second enum named "status" collides with the others
    # (drf-spectacular W001); see the note about ENUM_NAME_OVERRIDES in the finance report.
    status = serializers.CharField(read_only=True, help_text="pending | sent | paid | failed | reversed")
    amount = serializers.IntegerField(source="amount_minor", help_text="Minor units (cents).")
    amount_display = serializers.CharField()
    run = serializers.IntegerField(source="run_id")
    period_end = serializers.DateField(source="run.period_end")
    lines = PayoutLineSerializer(many=True)
    statement_url = serializers.SerializerMethodField()

    class Meta:
        model = Payout
        fields = ["id", "amount", "amount_display", "currency", "status", "failure_code", "failure_reason",
                  "stripe_transfer_id", "run", "period_end", "lines", "created_at", "sent_at", "paid_at", "failed_at",
                  "statement_url"]

    def get_statement_url(self, obj) -> str:
        return f"/payouts/{obj.pk}/statement.pdf"


class RunPayoutSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="pending | sent | paid | failed | reversed")
    amount = serializers.IntegerField(source="amount_minor")
    artist = serializers.IntegerField(source="artist_id")

    class Meta:
        model = Payout
        fields = ["id", "artist", "amount", "currency", "status", "failure_code", "failure_reason",
                  "stripe_transfer_id"]


class SkippedSerializer(serializers.Serializer):
    artist_id = serializers.IntegerField()
    currency = serializers.CharField()
    unpaid_minor = serializers.IntegerField()
    code = serializers.CharField()
    reason = serializers.CharField()
    program_id = serializers.IntegerField(allow_null=True, required=False)


class PayoutRunSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True,
                                   help_text="created | running | done | done_with_failures | interrupted")
    program = serializers.IntegerField(source="program_id", allow_null=True)
    total = serializers.DictField(source="total_minor", child=serializers.IntegerField(),
                                  help_text="Planned total per currency, minor units.")
    skipped = SkippedSerializer(many=True)
    payouts = RunPayoutSerializer(many=True)
    report_csv = serializers.SerializerMethodField()
    report_pdf = serializers.SerializerMethodField()

    class Meta:
        model = PayoutRun
        fields = ["id", "program", "period_end", "status", "created_at", "started_at", "finished_at",
                  "payout_count", "total", "skipped", "payouts", "last_error", "report_csv", "report_pdf"]

    def get_report_csv(self, obj) -> str:
        return f"/reports/payouts/{obj.pk}.csv"

    def get_report_pdf(self, obj) -> str:
        return f"/reports/payouts/{obj.pk}.pdf"


class PayoutRunCreateSerializer(serializers.Serializer):
    program = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)
    period_end = serializers.DateField()
