"""The inbox: one row per thing Atelier told a person, and which kinds they also want by
email. Written only by tester_platform.notifications.services.notify."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    """Every kind of notice. The label is what the email settings page lists."""

    SHARE_DECIDED = "share_decided", "Share requests decided (also approved automatically, appeals)"
    FEEDBACK_REVIEWED = "feedback_reviewed", "Feedback reports reviewed"
    SEVERITY_RERATED = "severity_rerated", "Severity of a report re-rated"
    TIME_REVIEWED = "time_reviewed", "Time entries reviewed"
    TASK_PUBLISHED = "task_published", "New assignments for you"
    TASK_REVIEWED = "task_reviewed", "Assignments accepted or returned"
    PAYOUT_SENT = "payout_sent", "Payouts sent"
    PAYOUT_ARRIVED = "payout_arrived", "Payouts arrived in your bank"
    PAYOUT_FAILED = "payout_failed", "Payouts that failed or were reversed"
    PROGRAM_PAUSED = "program_paused", "A program paused"
    PROGRAM_RESUMED = "program_resumed", "A program resumed"
    ENROLLMENT_SUSPENDED = "enrollment_suspended", "Your participation suspended (with the reason)"
    ENROLLMENT_REINSTATED = "enrollment_reinstated", "Your participation reinstated"
    CONSENT_VERSION = "consent_version", "A new consent agreement to sign"
    TOKEN_SUSPENDED = "token_suspended", "An API token suspended"
    ANNOUNCEMENT = "announcement", "Announcements from your programs"
    # Staff
    ACCESS_FLAG = "access_flag", "Access flags raised (staff)"
    MODERATION_DUE = "moderation_due", "Share requests due soon (staff)"


STAFF_KINDS = frozenset({Kind.ACCESS_FLAG, Kind.MODERATION_DUE})


class Notification(models.Model):
    class Email(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        OFF = "off", "Not emailed (switched off)"
        FAILED = "failed", "Sending failed"

    # `user` (not `recipient`): the page cache retires this person's pages on every write.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    program = models.ForeignKey("programs.Program", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Plain text; escaped wherever it is shown.")
    link = models.CharField(max_length=500, blank=True, help_text="A path on this site, or a full URL.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_status = models.CharField(max_length=8, choices=Email.choices, default=Email.PENDING)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at"], name="notif_user_unread_idx"),
            models.Index(fields=["email_status", "created_at"], name="notif_email_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class EmailPreference(models.Model):
    """A kind the person switched email off (or on again) for. No row = emailed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_preferences")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    email = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notif_one_preference_per_kind")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {'email' if self.email else 'inbox only'}"


class Announcement(models.Model):
    """A message from a program to its testers (markdown), shown in their inbox and, when
    the manager asks, emailed to those who did not switch announcements off."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="announcements")
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=20_000, help_text="Markdown.")
    email = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title
