from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models

from tester_platform.errors import DomainError


def body_sha256(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


class ImmutableRecord(DomainError):
    http_status = 409
    code = "immutable"


class ConsentDocument(models.Model):
    """A versioned agreement. Once published its text never changes: artists signed that
    exact text, and the SHA-256 in each record proves which."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="consent_documents")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown.")
    sha256 = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["program", "-version"]
        constraints = [models.UniqueConstraint(fields=["program", "version"], name="unique_consent_version")]

    def __str__(self) -> str:
        return f"{self.program} consent v{self.version}"

    def save(self, *args, **kwargs):
        if self.pk:
            stored = (
                ConsentDocument.objects.filter(pk=self.pk).values("published_at", "body", "title", "version").first()
            )
            if (
                stored
                and stored["published_at"]
                and (stored["body"] != self.body or stored["title"] != self.title or stored["version"] != self.version)
            ):
                raise ImmutableRecord("A published consent document cannot be changed; publish a new version.")
        self.sha256 = body_sha256(self.body)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.published_at:
            raise ImmutableRecord("A published consent document cannot be deleted.")
        return super().delete(*args, **kwargs)


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableRecord(f"{self.model.__name__} rows are append-only")

    def delete(self):
        raise ImmutableRecord(f"{self.model.__name__} rows are append-only")


class ConsentRecord(models.Model):
    """One signature or withdrawal. Never edited: withdrawal is a new record."""

    class Kind(models.TextChoices):
        GRANT = "grant", "Signed"
        WITHDRAW = "withdraw", "Withdrawn"

    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consent_records")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="consent_records")
    document = models.ForeignKey(ConsentDocument, on_delete=models.PROTECT, related_name="records")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.GRANT)
    participation = models.BooleanField()
    training_use = models.BooleanField(default=False)
    marketing_use = models.BooleanField(default=False)
    signed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    document_sha256 = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-signed_at", "-id"]
        indexes = [models.Index(fields=["artist", "program", "-id"])]

    def __str__(self) -> str:
        return f"{self.artist} {self.kind} v{self.document.version} of {self.program}"

    def save(self, *args, **kwargs):
        if self.pk:
            raise ImmutableRecord("Consent records are append-only; withdraw by adding a record.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord("Consent records are append-only.")
