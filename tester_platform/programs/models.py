from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Program(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RECRUITING = "recruiting", "Recruiting"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    class Resolution(models.TextChoices):
        PREVIEW = "preview", "Preview"
        P480 = "480p", "480p"
        P720 = "720p", "720p"
        P1080 = "1080p", "1080p"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True)
    description = models.TextField(blank=True, help_text="Markdown; shown to artists before they join.")
    model_profile = models.CharField(max_length=60, default="wan-tiny", help_text="A key of settings.MODEL_PROFILES.")
    # Quota policy
    daily_compute_seconds = models.PositiveIntegerField(default=600, help_text="Compute seconds per artist per day.")
    max_concurrent_jobs = models.PositiveSmallIntegerField(default=2)
    max_resolution = models.CharField(max_length=8, choices=Resolution.choices, default=Resolution.PREVIEW)
    max_duration_seconds = models.PositiveSmallIntegerField(default=5)
    # Share policy
    share_review_hours = models.PositiveSmallIntegerField(default=48, help_text="Review deadline for share requests.")
    share_approve_on_expiry = models.BooleanField(default=True, help_text="No decision by the deadline means approved.")
    created_at = models.DateTimeField(auto_now_add=True)
    paused_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProgramStaff(models.Model):
    """Where a staff member may act: moderators and managers are per program."""

    class Role(models.TextChoices):
        MODERATOR = "moderator", "Moderator"
        MANAGER = "program_manager", "Program manager"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="program_roles")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "user", "role"], name="unique_program_staff_role")]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} of {self.program}"


class Invitation(models.Model):
    """An emailed, single-use invitation. Only the SHA-256 of the token is stored, so a
    database leak cannot be turned into enrollments."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.program}"


class Application(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="applications")
    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="applications")
    portfolio_url = models.URLField()
    statement = models.TextField(max_length=4000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "artist"], condition=Q(status="submitted"), name="one_open_application_per_program"
            )
        ]

    def __str__(self) -> str:
        return f"{self.artist} → {self.program} ({self.status})"


class Enrollment(models.Model):
    class Status(models.TextChoices):
        ONBOARDING = "onboarding", "Onboarding"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        LEFT = "left", "Left"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrollments")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ONBOARDING, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.TextField(blank=True)
    suspended_from = models.CharField(max_length=12, blank=True, help_text="Status to restore on reinstatement.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["program", "artist"], name="one_enrollment_per_program")]

    def __str__(self) -> str:
        return f"{self.artist} in {self.program} ({self.status})"
