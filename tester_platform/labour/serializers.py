from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from payments.models import LedgerEntry, Severity
from tester_platform.api.links import absolute
from tester_platform.api.lookups import MAX_ID
from tester_platform.labour.models import Assignment, FeedbackReport, Task, TimeEntry
from tester_platform.labour.services import ACCEPT, DUPLICATE, REJECT


def _id(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class FeedbackCreateSerializer(serializers.Serializer):
    program = _id()
    generation = _id(required=False, allow_null=True)
    generations = serializers.ListField(child=_id(), required=False, default=list, max_length=50)
    category = serializers.ChoiceField(choices=FeedbackReport.Category.choices)
    severity = serializers.ChoiceField(choices=Severity.choices)
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=10_000)


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    content_type = serializers.CharField()
    bytes = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    duration_ms = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField()
    url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.URLField())
    def get_url(self, attachment) -> str:
        from django.urls import reverse

        return absolute(self.context, reverse("labour:attachment", args=[attachment.pk]))


class RerateSerializer(serializers.Serializer):
    from_severity = serializers.CharField()
    to_severity = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    amount_minor = serializers.SerializerMethodField()

    def get_amount_minor(self, rerate) -> int:
        return rerate.ledger_entry.amount_minor if rerate.ledger_entry_id else 0


class FeedbackSerializer(serializers.ModelSerializer):
    program = serializers.IntegerField(source="program_id")
    generation = serializers.IntegerField(source="generation_id", allow_null=True)
    generations = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    duplicate_of = serializers.IntegerField(source="duplicate_of_id", allow_null=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    rerates = RerateSerializer(many=True, read_only=True)

    class Meta:
        model = FeedbackReport
        fields = [
            "id",
            "program",
            "generation",
            "generations",
            "category",
            "severity",
            "title",
            "body",
            "status",
            "duplicate_of",
            "reason",
            "reviewed_at",
            "acted_on_at",
            "acted_on_note",
            "attachments",
            "rerates",
            "created_at",
        ]


class FeedbackRerateSerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=Severity.choices)
    reason = serializers.CharField(max_length=2000)


class FeedbackReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[ACCEPT, REJECT, DUPLICATE])
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    duplicate_of = _id(required=False, allow_null=True)


class ActedOnSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class TimeEntryCreateSerializer(serializers.Serializer):
    program = _id()
    date = serializers.DateField()
    minutes = serializers.IntegerField(
        min_value=1,
        max_value=24 * 60,
        error_messages={
            "min_value": "Enter the time as a positive number of minutes.",
            "max_value": "A day has 24 hours (1440 minutes); one entry cannot be longer.",
        },
    )
    description = serializers.CharField(max_length=4000)
    generations = serializers.ListField(child=_id(), required=False, default=list, max_length=200)


class TimeEntrySerializer(serializers.ModelSerializer):
    program = serializers.IntegerField(source="program_id")
    generations = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = TimeEntry
        fields = [
            "id",
            "program",
            "date",
            "minutes",
            "description",
            "generations",
            "status",
            "reason",
            "reviewed_at",
            "created_at",
        ]


class TimeReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[ACCEPT, REJECT])
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SuggestionQuerySerializer(serializers.Serializer):
    program = _id()
    days = serializers.IntegerField(min_value=1, max_value=90, required=False, default=14)


class TimeSuggestionSerializer(serializers.Serializer):
    date = serializers.DateField()
    minutes = serializers.IntegerField()
    filed_minutes = serializers.IntegerField()
    unfiled_minutes = serializers.IntegerField()
    generations = serializers.ListField(child=serializers.IntegerField())


class BalanceSerializer(serializers.Serializer):
    earned = serializers.IntegerField()
    unpaid = serializers.IntegerField()
    paid = serializers.IntegerField()


class CurrencyBalanceSerializer(BalanceSerializer):
    currency = serializers.CharField()


class LedgerSourceSerializer(serializers.Serializer):
    """What caused a ledger line."""

    type = serializers.CharField(
        help_text="e.g. `labour.feedbackreport`, `labour.timeentry`, `labour.assignment`, `sharing.sharerequest`."
    )
    id = serializers.CharField(help_text="The cause's id, as text.")
    label = serializers.CharField(allow_blank=True, help_text="The cause in words.")
    url = serializers.URLField(
        allow_null=True, help_text="Where to see it in the web app (absolute); null if it has no page."
    )


class LedgerRateSerializer(serializers.Serializer):
    """The rate a line was computed at, when it was computed from one."""

    amount = serializers.IntegerField(help_text="The rate, minor units.")
    basis = serializers.ChoiceField(choices=LedgerEntry.RateBasis.choices, allow_blank=True)
    quantity = serializers.IntegerField(allow_null=True, help_text="Minutes, for hourly rates.")
    rate_card_version = serializers.IntegerField(allow_null=True)
    display = serializers.CharField(help_text="The rate in words, e.g. `€20.00/h × 90 min`.")


class LedgerLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=LedgerEntry.Kind.choices)
    amount = serializers.IntegerField(source="amount_minor")
    currency = serializers.CharField()
    program = serializers.IntegerField(source="program_id")
    source = serializers.SerializerMethodField()
    rate = serializers.SerializerMethodField()
    memo = serializers.CharField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(LedgerSourceSerializer())
    def get_source(self, entry) -> dict:
        return {
            "type": entry.source_type,
            "id": entry.source_id,
            "label": entry.source_label,
            "url": absolute(self.context, getattr(entry, "url", None)),
        }

    @extend_schema_field(LedgerRateSerializer(allow_null=True))
    def get_rate(self, entry) -> dict | None:
        if entry.rate_minor is None:
            return None
        return {
            "amount": entry.rate_minor,
            "basis": entry.rate_basis,
            "quantity": entry.quantity,
            "rate_card_version": entry.rate_card_version,
            "display": entry.rate_display,
        }


class EarningsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    balance = BalanceSerializer()
    balances = CurrencyBalanceSerializer(many=True)
    lines = LedgerLineSerializer(many=True)


class SeveritySerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=Severity.choices)
    label = serializers.CharField()
    description = serializers.CharField()
    bounty = serializers.IntegerField(
        allow_null=True,
        help_text="Minor units per accepted report, under the program's published rate card; null before one.",
    )
    currency = serializers.CharField(allow_null=True)


# --- tasks and assignments ---------------------------------------------------------------


class TaskProgressSerializer(serializers.Serializer):
    taken = serializers.IntegerField(help_text="Places held (working, submitted, returned or accepted).")
    working = serializers.IntegerField()
    submitted = serializers.IntegerField(help_text="Awaiting review.")
    returned = serializers.IntegerField()
    accepted = serializers.IntegerField()
    withdrawn = serializers.IntegerField()


class TaskSerializer(serializers.ModelSerializer):
    program = serializers.IntegerField(source="program_id")
    fixed_pay = serializers.IntegerField(
        source="fixed_pay_minor", allow_null=True, help_text="Fixed pay, minor units; null for hourly tasks."
    )
    places_left = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "program",
            "title",
            "instructions",
            "category",
            "estimated_minutes",
            "pay",
            "fixed_pay",
            "currency",
            "capacity",
            "places_left",
            "due_at",
            "status",
            "created_at",
            "closed_at",
            "progress",
            "url",
        ]

    def _counts(self, task) -> dict:
        if not hasattr(task, "taken"):  # not from a selector that annotates them
            from tester_platform.labour.selectors import with_progress

            task = with_progress(Task.objects.filter(pk=task.pk)).get()
        return {"taken": task.taken, **{status: getattr(task, status) for status in Assignment.Status.values}}

    def get_places_left(self, task) -> int:
        return max(0, task.capacity - self._counts(task)["taken"])

    @extend_schema_field(TaskProgressSerializer())
    def get_progress(self, task) -> dict:
        return self._counts(task)

    @extend_schema_field(serializers.URLField())
    def get_url(self, task) -> str:
        from django.urls import reverse

        return absolute(self.context, reverse("labour:task_detail", args=[task.pk]))


class AssignmentSerializer(serializers.ModelSerializer):
    task = serializers.IntegerField(source="task_id")
    program = serializers.IntegerField(source="task.program_id")
    title = serializers.CharField(source="task.title")
    generations = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    findings = serializers.SerializerMethodField()
    pay = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = [
            "id",
            "task",
            "program",
            "title",
            "status",
            "accepted_at",
            "submitted_at",
            "note",
            "minutes",
            "generations",
            "findings",
            "reviewed_at",
            "reason",
            "paid_minutes",
            "pay",
        ]

    def get_findings(self, assignment) -> list[int]:
        return [report.pk for report in assignment.findings.all()]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_pay(self, assignment) -> int | None:
        """The amount posted on acceptance, minor units; null before."""
        return assignment.ledger_entry.amount_minor if assignment.ledger_entry_id else None


class AssignmentReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[ACCEPT, "return"])
    reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when returning: what the artist should change.",
    )
