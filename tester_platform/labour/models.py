"""Testing labour: feedback reports, time entries, and pay-floor assessments. What they
earn lives in the payments engine's ledger, keyed by these objects as its sources."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from payments.models import Severity
from payments.money import format_minor

MINUTES_PER_DAY = 24 * 60


class FeedbackReport(models.Model):
    class Category(models.TextChoices):
        BUG = "bug", "Bug"
        QUALITY = "quality", "Output quality"
        SAFETY = "safety", "Safety"
        USABILITY = "usability", "Usability"
        IDEA = "idea", "Idea"

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Waiting for review"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        DUPLICATE = "duplicate", "Duplicate"

    SOURCE_TYPE = "labour.feedbackreport"

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="feedback_reports")
    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="feedback_reports")
    generation = models.ForeignKey(
        "generation.GenerationJob",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The output the report is about, if any.",
    )
    generations = models.ManyToManyField(
        "generation.GenerationJob", blank=True, related_name="+", help_text="More of the artist's outputs that show it."
    )
    category = models.CharField(max_length=12, choices=Category.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=10_000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    duplicate_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="duplicates")
    assignment = models.ForeignKey(
        "labour.Assignment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="findings",
        help_text="The assignment this finding was made for.",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    acted_on_at = models.DateTimeField(null=True, blank=True)
    acted_on_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acted_on_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="duplicate") | Q(duplicate_of__isnull=False), name="labour_duplicate_names_original"
            ),
            models.CheckConstraint(
                condition=Q(status="submitted") | Q(reviewed_at__isnull=False), name="labour_feedback_decided_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"Feedback #{self.pk}: {self.title}"

    @property
    def label(self) -> str:
        return f"Feedback #{self.pk}: {self.title}"[:200]


class FeedbackAttachment(models.Model):
    """Evidence for a report: a still or a short clip, its type proven by decoding, kept
    privately (served only through a permission-checked view)."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video clip"

    report = models.ForeignKey(FeedbackReport, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    file = models.FileField(upload_to="evidence/%Y/%m/", max_length=200)
    content_type = models.CharField(max_length=40)
    bytes = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Clips: length in milliseconds.")
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} of report #{self.report_id}"


class SeverityRerate(models.Model):
    """A moderator changed a report's severity, with a reason the artist sees. When the
    report was already paid, the bounty follows in the ledger once: one adjustment line
    (source labour.severityrerate), the difference between the new bounty and what the
    report had earned so far."""

    SOURCE_TYPE = "labour.severityrerate"

    report = models.ForeignKey(FeedbackReport, on_delete=models.PROTECT, related_name="rerates")
    from_severity = models.CharField(max_length=10, choices=Severity.choices)
    to_severity = models.CharField(max_length=10, choices=Severity.choices)
    reason = models.TextField(max_length=2000)
    rerated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    ledger_entry = models.OneToOneField(
        "payments.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_severity=models.F("to_severity")), name="labour_rerate_changes_severity"
            )
        ]

    def __str__(self) -> str:
        return f"Report #{self.report_id}: {self.from_severity} → {self.to_severity}"


class TimeEntry(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Waiting for review"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    SOURCE_TYPE = "labour.timeentry"

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="time_entries")
    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="time_entries")
    date = models.DateField(db_index=True)
    minutes = models.PositiveSmallIntegerField()
    description = models.TextField(max_length=4000)
    generations = models.ManyToManyField("generation.GenerationJob", blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name_plural = "time entries"
        indexes = [models.Index(fields=["artist", "program", "date"], name="labour_time_artist_day_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes__gte=1, minutes__lte=MINUTES_PER_DAY), name="labour_time_minutes_within_a_day"
            ),
            models.CheckConstraint(
                condition=Q(status="submitted") | Q(reviewed_at__isnull=False), name="labour_time_decided_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"Time #{self.pk}: {self.minutes} min on {self.date}"

    @property
    def label(self) -> str:
        hours, minutes = divmod(self.minutes, 60)
        return f"Time #{self.pk}: {hours} h {minutes:02d} min on {self.date.isoformat()}"


class PayFloorAssessment(models.Model):
    """One artist's effective hourly rate over one ISO week of one program, and the top-up
    it needed. Unique per artist, program and week: that is what makes the pay-floor job
    idempotent (a second run finds the row and posts nothing)."""

    SOURCE_TYPE = "labour.payfloorassessment"

    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    period_key = models.CharField(max_length=10, help_text="ISO week, e.g. 2026-W14.")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Exclusive.")
    accepted_minutes = models.PositiveIntegerField()
    earned_minor = models.BigIntegerField(help_text="Time and bounty earnings of the period.")
    floor_hourly_minor = models.PositiveIntegerField()
    target_minor = models.BigIntegerField()
    topup_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    rate_card = models.ForeignKey("payments.RateCard", on_delete=models.PROTECT, related_name="+")
    ledger_entry = models.OneToOneField(
        "payments.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "artist_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["artist", "program", "period_key"], name="labour_pay_floor_once_per_period"
            ),
        ]

    def __str__(self) -> str:
        return f"Pay floor {self.period_key} for {self.artist} in {self.program}"

    @property
    def label(self) -> str:
        return f"Pay floor top-up, week {self.period_key}"

    @property
    def earned_display(self) -> str:
        return format_minor(self.earned_minor, self.currency)

    @property
    def target_display(self) -> str:
        return format_minor(self.target_minor, self.currency)

    @property
    def topup_display(self) -> str:
        return format_minor(self.topup_minor, self.currency)


class Task(models.Model):
    """Work a program asks for: what to test and how, for what pay, by when, for how many
    testers (or for chosen ones). Artists take it on as an Assignment."""

    class Category(models.TextChoices):
        QUALITY = "quality", "Output quality"
        SAFETY = "safety", "Safety red-teaming"
        BIAS = "bias", "Bias"
        PROMPT_ADHERENCE = "prompt_adherence", "Prompt adherence"
        OTHER = "other", "Other"

    class Pay(models.TextChoices):
        FIXED = "fixed", "Fixed per task"
        HOURLY = "hourly", "Hourly, at the program's rate"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="tasks")
    title = models.CharField(max_length=200)
    instructions = models.TextField(max_length=20_000, help_text="Markdown: what to test and how.")
    category = models.CharField(max_length=20, choices=Category.choices)
    estimated_minutes = models.PositiveSmallIntegerField()
    pay = models.CharField(max_length=8, choices=Pay.choices)
    fixed_pay_minor = models.PositiveIntegerField(null=True, blank=True, help_text="Fixed pay, minor units.")
    currency = models.CharField(max_length=3)
    capacity = models.PositiveSmallIntegerField(help_text="How many testers may take it on.")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN, db_index=True)
    invited = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="tasks_offered",
        help_text="Only these testers; nobody chosen = every tester of the program.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(pay="fixed") | Q(fixed_pay_minor__gt=0), name="labour_task_fixed_pay"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="labour_task_capacity"),
            models.CheckConstraint(condition=Q(estimated_minutes__gte=1), name="labour_task_estimate"),
        ]

    def __str__(self) -> str:
        return f"Task #{self.pk}: {self.title}"

    @property
    def pay_display(self) -> str:
        if self.pay == self.Pay.FIXED:
            return format_minor(self.fixed_pay_minor or 0, self.currency)
        return "the program's hourly rate"


class Assignment(models.Model):
    """One artist's take on one task: working, submitted with findings, then accepted (pay
    posts once, source labour.assignment) or returned with a reason (fix and resubmit)."""

    class Status(models.TextChoices):
        WORKING = "working", "Working on it"
        SUBMITTED = "submitted", "Submitted for review"
        ACCEPTED = "accepted", "Accepted"
        RETURNED = "returned", "Returned to you"
        WITHDRAWN = "withdrawn", "Given back"

    SOURCE_TYPE = "labour.assignment"
    OPEN_STATUSES = (Status.WORKING, Status.RETURNED)
    HOLDING_CAPACITY = (Status.WORKING, Status.SUBMITTED, Status.ACCEPTED, Status.RETURNED)

    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="assignments")
    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WORKING, db_index=True)
    accepted_at = models.DateTimeField(help_text="When the artist took it on.")
    submitted_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(max_length=10_000, blank=True, help_text="The artist's summary at submission.")
    minutes = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Minutes worked (hourly tasks).")
    generations = models.ManyToManyField("generation.GenerationJob", blank=True, related_name="+")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reason = models.TextField(blank=True)
    paid_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Minutes the pay stands for (the pay floor counts them)."
    )
    ledger_entry = models.OneToOneField(
        "payments.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-accepted_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["task", "artist"], name="labour_one_assignment_per_task")]

    def __str__(self) -> str:
        return f"Assignment #{self.pk} of task #{self.task_id}"

    @property
    def label(self) -> str:
        return f"Assignment #{self.pk}: {self.task.title}"[:200]
