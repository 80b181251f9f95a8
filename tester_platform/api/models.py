from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A bearer token. Only a visible prefix and the SHA-256 of the secret are stored: the
    artist sees the full token once, and a database leak yields nothing usable."""

    class Scope(models.TextChoices):
        GENERATE = "generate", "Generate videos"
        READ = "read", "Read"
        SHARE = "share", "Request sharing"
        LABOUR = "labour", "File feedback and time"
        CONSENT = "consent", "Sign or withdraw consent"
        REVIEW = "review", "Moderate: decide shares, review feedback and time"
        PROGRAMS = "programs", "Manage programs (kill switch)"
        FINANCE = "finance", "Run payouts"

    ALL_SCOPES = [s.value for s in Scope]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.TextField(blank=True)
    # When the holder passed their second factor to mint it. Staff tokens without one (or
    # with a stale one, see STAFF_TOKEN_2FA_HOURS) are refused while staff 2FA is required.
    second_factor_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'token'})"

    @property
    def state(self) -> str:
        from django.utils import timezone

        if self.revoked_at:
            return "revoked"
        if self.suspended_at:
            return "suspended"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"
