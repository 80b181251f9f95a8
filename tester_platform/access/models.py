"""Access that cannot leak wholesale: per-program thresholds, per-token activity, and the
flags that suspend one token (or one artist's generation) instead of the whole program."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AccessPolicy(models.Model):
    """Thresholds per program. A token is judged by the strictest policy among its
    owner's programs; programs without a row use the defaults below."""

    program = models.OneToOneField("programs.Program", on_delete=models.CASCADE, related_name="access_policy")
    requests_per_minute_per_token = models.PositiveIntegerField(default=120)
    requests_per_minute_per_artist = models.PositiveIntegerField(default=240)
    generations_per_hour_per_artist = models.PositiveIntegerField(default=60)
    window_seconds = models.PositiveIntegerField(default=60, help_text="How far back each scan looks.")
    max_client_ips_per_token = models.PositiveIntegerField(default=4)
    max_user_agents_per_token = models.PositiveIntegerField(default=4)
    baseline_multiplier = models.PositiveIntegerField(default=10, help_text="Flag at this many times the usual volume…")
    min_requests_to_flag = models.PositiveIntegerField(default=200, help_text="…and at least this many requests.")
    max_concurrent_generations = models.PositiveIntegerField(default=6)

    def __str__(self) -> str:
        return f"Access policy of {self.program}"


class TokenActivity(models.Model):
    """Requests of one token in one minute from one client (IP + user agent)."""

    token = models.ForeignKey("api.ApiToken", on_delete=models.CASCADE, related_name="activity")
    minute = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent_hash = models.CharField(max_length=16)
    user_agent = models.CharField(max_length=200, blank=True)
    requests = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["token", "minute", "ip", "user_agent_hash"], name="unique_token_activity_bucket"
            )
        ]
        indexes = [models.Index(fields=["minute", "token"], name="token_activity_minute_idx")]

    def __str__(self) -> str:
        return f"{self.requests} requests of token #{self.token_id} at {self.minute:%Y-%m-%d %H:%M}"


class AccessFlag(models.Model):
    class Kind(models.TextChoices):
        TOKEN = "token", "Token suspended"
        ARTIST = "artist", "Artist's generation suspended"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONFIRMED = "confirmed", "Confirmed (kept suspended)"
        UNDONE = "undone", "Undone (access restored)"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    token = models.ForeignKey("api.ApiToken", null=True, blank=True, on_delete=models.CASCADE, related_name="flags")
    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_flags")
    program = models.ForeignKey("programs.Program", null=True, blank=True, on_delete=models.CASCADE)
    reason = models.TextField()
    metrics = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open flag per token: a scan that runs again does not pile up duplicates.
            models.UniqueConstraint(
                fields=["token"], condition=models.Q(status="open", kind="token"), name="one_open_flag_per_token"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.artist}"
