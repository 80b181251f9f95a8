from __future__ import annotations

from django.db import models

from payments.money import format_minor


class RateCard(models.Model):
    """What a program pays, versioned and shown to artists before they join. Amounts are
    integer minor units of `currency` (cents, pence). The ledger and its postings come with
    the labour issue; the platform passes the program in, this engine never looks it up."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="rate_cards")
    version = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="EUR")
    hourly_rate_minor = models.PositiveIntegerField(help_text="Per accepted hour of testing time.")
    pay_floor_hourly_minor = models.PositiveIntegerField(help_text="Minimum effective hourly rate.")
    share_bonus_minor = models.PositiveIntegerField(default=0)
    notes = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["program", "-version"]
        constraints = [models.UniqueConstraint(fields=["program", "version"], name="unique_rate_card_version")]

    def __str__(self) -> str:
        return f"Rate card v{self.version} ({self.currency})"

    @property
    def hourly_display(self) -> str:
        return format_minor(self.hourly_rate_minor, self.currency)

    @property
    def floor_display(self) -> str:
        return format_minor(self.pay_floor_hourly_minor, self.currency)
