from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

OPINION_CLAUSE = (
    "Opinion and critique of the model are never grounds for refusing a share. A request can only be "
    "refused for one of the published reasons below, and every refusal can be appealed once to a different moderator."
)


class RejectionReason(models.Model):
    """The published list a refusal must cite from. Artists see it before they ask."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="rejection_reasons")
    code = models.SlugField(max_length=40)
    label = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["program", "position", "code"]
        constraints = [models.UniqueConstraint(fields=["program", "code"], name="unique_rejection_reason_code")]

    def __str__(self) -> str:
        return self.label


DEFAULT_REASONS = [
    (
        "unannounced_feature",
        "Shows an unannounced feature",
        "The output reveals a capability the program has not announced yet.",
    ),
    ("safety", "Safety", "The output contains unsafe content (violence, sexual content involving minors, self-harm)."),
    (
        "third_party_rights",
        "Third-party rights",
        "The output reproduces someone else's protected work, likeness or brand.",
    ),
    ("personal_data", "Personal data", "The output or caption exposes someone's personal data."),
]


class ReviewStep(models.Model):
    """The program's ordered review steps. Automatic steps run at submission; each
    moderator step needs one moderator's approval before the next."""

    class Kind(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic checks"
        MODERATORS = "moderators", "Moderator review"

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="review_steps")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["program", "position"]
        constraints = [models.UniqueConstraint(fields=["program", "position"], name="unique_review_step_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class ShareRequest(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        RESUBMITTED = "resubmitted", "Resubmitted"
        WITHDRAWN = "withdrawn", "Withdrawn"
        REVOKED = "revoked", "Revoked"

    class Destination(models.TextChoices):
        PORTFOLIO = "portfolio", "Portfolio"
        SOCIAL_MEDIA = "social_media", "Social media"
        PRESS = "press", "Press"
        OTHER = "other", "Other"

    # Open requests block a second request for the same output (database constraint).
    OPEN_STATUSES = ("submitted", "in_review", "changes_requested", "resubmitted", "approved")
    AWAITING_DECISION = ("in_review", "resubmitted")

    generation = models.ForeignKey("generation.GenerationJob", on_delete=models.PROTECT, related_name="share_requests")
    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="share_requests")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="share_requests")
    caption = models.CharField(max_length=500)
    destination = models.CharField(max_length=16, choices=Destination.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    current_step = models.PositiveSmallIntegerField(default=0, help_text="Position of the review step it waits on.")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="share_decisions"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.ForeignKey(RejectionReason, null=True, blank=True, on_delete=models.PROTECT)
    note = models.TextField(blank=True)
    auto_decided = models.BooleanField(default=False)
    public_slug = models.SlugField(max_length=32, unique=True, null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # One appeal per request, decided by a moderator other than the one who rejected.
    appeal_note = models.TextField(blank=True)
    appealed_at = models.DateTimeField(null=True, blank=True)
    appeal_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="share_appeal_decisions"
    )
    appeal_decided_at = models.DateTimeField(null=True, blank=True)
    appeal_outcome = models.CharField(
        max_length=12, blank=True, choices=[("upheld", "Rejection upheld"), ("overturned", "Overturned: approved")]
    )
    appeal_decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["generation"],
                condition=Q(status__in=["submitted", "in_review", "changes_requested", "resubmitted", "approved"]),
                name="one_open_share_request_per_output",
            ),
        ]
        indexes = [models.Index(fields=["program", "status", "due_at"], name="share_queue_idx")]

    def __str__(self) -> str:
        return f"Share request #{self.pk} ({self.status})"

    @property
    def appeal_pending(self) -> bool:
        return bool(self.appealed_at) and not self.appeal_decided_at

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.APPROVED and self.public_slug is not None


class ShareEvent(models.Model):
    """The decision history of a request: every transition, who made it and whether a
    decision met the deadline (the figures per moderator are computed from these rows)."""

    share_request = models.ForeignKey(ShareRequest, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=24)
    step = models.PositiveSmallIntegerField(default=0)
    reason_code = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField()
    waited_seconds = models.FloatField(null=True, blank=True, help_text="From (re)submission to this decision.")
    within_deadline = models.BooleanField(null=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["actor", "action"], name="share_event_actor_idx")]

    def __str__(self) -> str:
        return f"{self.action} on share request #{self.share_request_id}"
