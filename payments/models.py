from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from payments.errors import ImmutableLedger
from payments.money import format_minor


class Severity(models.TextChoices):
    """Severity of a feedback report: the rate card pays a bounty per level."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


DEFAULT_DAILY_TIME_CAP_MINUTES = 12 * 60


class RateCard(models.Model):
    """What a program pays, versioned and shown to artists before they join. Amounts are
    integer minor units of `currency` (cents, pence). The platform passes the program in,
    this engine never looks it up. A published card is never edited: a new version is."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="rate_cards")
    version = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="EUR")
    hourly_rate_minor = models.PositiveIntegerField(help_text="Per accepted hour of testing time.")
    pay_floor_hourly_minor = models.PositiveIntegerField(help_text="Minimum effective hourly rate.")
    share_bonus_minor = models.PositiveIntegerField(default=0, help_text="Per approved share.")
    bounty_low_minor = models.PositiveIntegerField(default=0, help_text="Per accepted low-severity report.")
    bounty_medium_minor = models.PositiveIntegerField(default=0, help_text="Per accepted medium-severity report.")
    bounty_high_minor = models.PositiveIntegerField(default=0, help_text="Per accepted high-severity report.")
    bounty_critical_minor = models.PositiveIntegerField(default=0, help_text="Per accepted critical report.")
    marketing_licence_minor = models.PositiveIntegerField(
        default=0, help_text="Per output the program uses in marketing (only with the artist's marketing opt-in)."
    )
    daily_time_cap_minutes = models.PositiveSmallIntegerField(
        default=DEFAULT_DAILY_TIME_CAP_MINUTES, help_text="Most testing minutes an artist may file for one day."
    )
    minimum_payout_minor = models.PositiveIntegerField(
        default=0, help_text="A payout run skips artists owed less than this (transfer fees make tiny ones wasteful)."
    )
    notes = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["program", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["program", "version"], name="unique_rate_card_version"),
            models.CheckConstraint(
                condition=Q(daily_time_cap_minutes__gte=1, daily_time_cap_minutes__lte=24 * 60),
                name="rate_card_daily_cap_within_a_day",
            ),
        ]

    def __str__(self) -> str:
        return f"Rate card v{self.version} ({self.currency})"

    def bounty_for(self, severity: str) -> int:
        try:
            return {
                Severity.LOW: self.bounty_low_minor,
                Severity.MEDIUM: self.bounty_medium_minor,
                Severity.HIGH: self.bounty_high_minor,
                Severity.CRITICAL: self.bounty_critical_minor,
            }[Severity(severity)]
        except ValueError:
            raise KeyError(f"unknown severity {severity!r}") from None

    def _fmt(self, amount_minor: int) -> str:
        return format_minor(amount_minor, self.currency)

    @property
    def hourly_display(self) -> str:
        return self._fmt(self.hourly_rate_minor)

    @property
    def floor_display(self) -> str:
        return self._fmt(self.pay_floor_hourly_minor)

    @property
    def share_bonus_display(self) -> str:
        return self._fmt(self.share_bonus_minor)

    @property
    def marketing_licence_display(self) -> str:
        return self._fmt(self.marketing_licence_minor)

    @property
    def bounties(self) -> list[tuple[str, str]]:
        """(severity label, formatted bounty), lowest first, for templates."""
        return [(label, self._fmt(self.bounty_for(value))) for value, label in Severity.choices]

    @property
    def minimum_payout_display(self) -> str:
        return self._fmt(self.minimum_payout_minor)

    @property
    def daily_cap_hours_display(self) -> str:
        hours, minutes = divmod(self.daily_time_cap_minutes, 60)
        return f"{hours} h" + (f" {minutes} min" if minutes else "")


class LedgerQuerySet(models.QuerySet["LedgerEntry"]):
    """No bulk edits: the ledger is append-only (corrections are new entries)."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise ImmutableLedger("Ledger entries are append-only; post a correcting entry instead.")

    def delete(self) -> NoReturn:
        raise ImmutableLedger("Ledger entries are append-only; post a correcting entry instead.")


class LedgerEntry(models.Model):
    """One immutable line of an artist's earnings ledger, in integer minor units.

    Sign convention: earnings are positive, a payout is negative (money leaves the unpaid
    balance), a reversal is the exact negation of the entry it reverses. The artist's
    unpaid balance is therefore the plain sum of their entries.
    `source_type`/`source_id` name the object that caused the entry (a lazy label such
    as "labour.timeentry", never an import); with `kind` they are unique, which is what
    makes each accepted item post exactly once."""

    class Kind(models.TextChoices):
        TIME = "time", "Testing time"
        FEEDBACK_BOUNTY = "feedback_bounty", "Feedback bounty"
        SHARE_BONUS = "share_bonus", "Share bonus"
        MARKETING_LICENCE = "marketing_licence", "Marketing licence"
        PAY_FLOOR_TOPUP = "pay_floor_topup", "Pay floor top-up"
        ADJUSTMENT = "adjustment", "Adjustment"
        PAYOUT = "payout", "Payout"
        REVERSAL = "reversal", "Reversal"

    class RateBasis(models.TextChoices):
        PER_HOUR = "per_hour", "per hour"
        PER_ITEM = "per_item", "per item"
        FLOOR_PER_HOUR = "floor_per_hour", "floor per hour"

    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ledger_entries")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    amount_minor = models.BigIntegerField(help_text="Signed, in minor units of currency.")
    currency = models.CharField(max_length=3)
    source_type = models.CharField(max_length=80)
    source_id = models.CharField(max_length=64)
    source_label = models.CharField(max_length=200, blank=True)
    rate_card = models.ForeignKey(RateCard, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    rate_card_version = models.PositiveIntegerField(null=True, blank=True)
    rate_minor = models.BigIntegerField(null=True, blank=True, help_text="The rate applied, in minor units.")
    rate_basis = models.CharField(max_length=16, choices=RateBasis.choices, blank=True)
    quantity = models.PositiveIntegerField(null=True, blank=True, help_text="Minutes for hourly rates.")
    reverses = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by")
    memo = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = LedgerQuerySet.as_manager()

    EARNING_KINDS = (Kind.TIME, Kind.FEEDBACK_BOUNTY, Kind.SHARE_BONUS, Kind.MARKETING_LICENCE, Kind.PAY_FLOOR_TOPUP)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["artist", "program", "created_at"], name="payments_ledger_artist_idx")]
        constraints = [
            models.UniqueConstraint(fields=["source_type", "source_id", "kind"], name="ledger_once_per_source_kind"),
            models.CheckConstraint(condition=~Q(amount_minor=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(
                condition=~Q(
                    kind__in=["time", "feedback_bounty", "share_bonus", "marketing_licence", "pay_floor_topup"]
                )
                | Q(amount_minor__gt=0),
                name="ledger_earnings_positive",
            ),
            models.CheckConstraint(condition=~Q(kind="payout") | Q(amount_minor__lt=0), name="ledger_payout_negative"),
            models.CheckConstraint(
                condition=~Q(kind="reversal") | Q(reverses__isnull=False), name="ledger_reversal_names_its_entry"
            ),
        ]

    def __str__(self) -> str:
        amount = format_minor(self.amount_minor, self.currency)
        return f"{self.get_kind_display()} {amount} ({self.source_label or self.source_type})"

    # Set by ledger_post on the entry it returns: True when that call wrote it, False when
    # the same posting was already there (posting is idempotent). Not a column.
    created: bool = False

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableLedger("Ledger entries are append-only; post a correcting entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableLedger("Ledger entries are append-only; post a correcting entry instead.")

    @property
    def amount_display(self) -> str:
        return format_minor(self.amount_minor, self.currency)

    @property
    def rate_display(self) -> str:
        """The rate applied, as the artist reads it: "€25.00/h × 90 min (card v2)"."""
        if self.rate_minor is None:
            return ""
        rate = format_minor(self.rate_minor, self.currency)
        if self.rate_basis == self.RateBasis.PER_HOUR:
            text = f"{rate}/h × {self.quantity} min"
        elif self.rate_basis == self.RateBasis.FLOOR_PER_HOUR:
            text = f"floor {rate}/h × {self.quantity} min"
        else:
            text = f"{rate} each"
        return f"{text} (rate card v{self.rate_card_version})" if self.rate_card_version else text


# --- Stripe Connect: accounts, payout runs, payouts, webhook events ----------------------


class ConnectedAccount(models.Model):
    """An artist's Stripe Express account. Its state is Stripe's: it changes only from what
    Stripe says (the account object after onboarding, `account.updated` webhooks)."""

    artist = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="connected_account")
    stripe_account_id = models.CharField(max_length=64, unique=True)
    details_submitted = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    requirements_due = models.JSONField(default=list, blank=True)
    disabled_reason = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.stripe_account_id} ({'payouts enabled' if self.payouts_enabled else 'not enabled'})"

    @property
    def missing(self) -> list[str]:
        """What the artist still has to do, in words: Stripe's `requirements.currently_due`
        (and past due), also while payouts are enabled (a bank account that failed is due
        again before Stripe pays out to it)."""
        items = list(
            dict.fromkeys(
                REQUIREMENT_LABELS.get(r, r.replace("_", " ").replace(".", ": ")) for r in self.requirements_due
            )
        )
        if self.payouts_enabled:
            return items
        if not self.details_submitted and not items:
            items = ["Finish the Stripe onboarding form"]
        if self.disabled_reason and not items:
            items = [f"Stripe has paused payouts ({self.disabled_reason.replace('_', ' ')})"]
        return items or ["Stripe is reviewing your details"]

    @property
    def disabled_reason_display(self) -> str:
        """Stripe's `requirements.disabled_reason`, in words ("" when payouts are not held)."""
        if not self.disabled_reason:
            return ""
        return DISABLED_REASON_LABELS.get(
            self.disabled_reason, self.disabled_reason.replace("_", " ").replace(".", ": ")
        )


REQUIREMENT_LABELS = {
    "external_account": "A bank account for payouts",
    "individual.verification.document": "An identity document",
    "individual.dob.day": "Your date of birth",
    "individual.dob.month": "Your date of birth",
    "individual.dob.year": "Your date of birth",
    "individual.first_name": "Your first name",
    "individual.last_name": "Your last name",
    "individual.address.line1": "Your address",
    "tos_acceptance.date": "Stripe's terms of service",
    "tos_acceptance.ip": "Stripe's terms of service",
    "business_profile.url": "A website or portfolio link",
}

# Stripe's `requirements.disabled_reason` values an Express account can show.
DISABLED_REASON_LABELS = {
    "requirements.past_due": "Stripe needs more information before it pays out",
    "requirements.pending_verification": "Stripe is verifying your details",
    "listed": "Stripe is reviewing the account",
    "under_review": "Stripe is reviewing the account",
    "rejected.fraud": "Stripe closed the account",
    "rejected.terms_of_service": "Stripe closed the account",
    "rejected.listed": "Stripe closed the account",
    "rejected.other": "Stripe closed the account",
    "platform_paused": "Payouts are paused",
}


class PayoutRun(models.Model):
    """One payout run: every artist owed money up to `period_end` (in one program or all of
    them) gets one transfer per currency. Amounts are fixed when the run is prepared; a
    second person approves exactly those amounts before any transfer is created (four eyes:
    `approved_by` is never `created_by`)."""

    class Status(models.TextChoices):
        PREPARED = "prepared", "Awaiting approval"
        APPROVED = "approved", "Approved, sending"
        RUNNING = "running", "Sending"
        DONE = "done", "Done"
        DONE_WITH_FAILURES = "done_with_failures", "Done, some not sent"
        INTERRUPTED = "interrupted", "Interrupted (resumes by itself)"
        DISCARDED = "discarded", "Discarded"

    FINAL = (Status.DONE, Status.DONE_WITH_FAILURES, Status.DISCARDED)
    # What an execution (the approval's task, a resume) may take up.
    EXECUTABLE = (Status.APPROVED, Status.RUNNING, Status.INTERRUPTED)

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    uid = models.UUIDField(
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text="Part of every idempotency key, so keys never repeat after a database reset.",
    )
    period_end = models.DateField(help_text="Entries created up to the end of this day are paid.")
    as_of = models.DateTimeField(help_text="The exclusive cut-off instant of the period.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PREPARED, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who prepared it (none: the schedule).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    discarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_progress_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last time an execution recorded a payout: a run without progress for "
        "PAYOUT_RUN_STALL_SECONDS is resumed by the beat task.",
    )
    skipped = models.JSONField(
        default=list,
        blank=True,
        help_text="Artists owed money who cannot be paid: [{artist_id, currency, unpaid_minor, code, reason}].",
    )
    payout_count = models.PositiveIntegerField(default=0)
    total_minor = models.JSONField(default=dict, blank=True, help_text="Planned total per currency, minor units.")
    last_error = models.TextField(blank=True)
    scheduled = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Four eyes, in the schema too: whoever prepared a run never approves it.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | Q(created_by__isnull=True)
                | ~Q(approved_by=models.F("created_by")),
                name="payout_run_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"Payout run #{self.pk} to {self.period_end}"

    @property
    def totals(self) -> list[tuple[str, int]]:
        """[(currency, planned total in minor units)] for templates (`|money:currency`)."""
        return sorted((currency, int(amount)) for currency, amount in (self.total_minor or {}).items())


class PayoutRunAttempt(models.Model):
    """One execution of a run (after approval, a resume by the beat task, a click): finance
    sees every attempt, how far it got and why it stopped."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        INTERRUPTED = "interrupted", "Interrupted"

    run = models.ForeignKey(PayoutRun, on_delete=models.PROTECT, related_name="attempts")
    trigger = models.CharField(max_length=20, help_text="approval | resume | manual")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.RUNNING)
    recorded = models.PositiveIntegerField(default=0, help_text="Payouts this attempt recorded (sent or refused).")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"Attempt ({self.trigger}) of payout run #{self.run_id}: {self.outcome}"


class Payout(models.Model):
    """One transfer to one artist in one run. Committed as pending before Stripe is called;
    `idempotency_key` is derived from the run and the artist, so every retry of this row
    asks Stripe for the same transfer.

    The states are Stripe Connect's (transfers and payouts split since 2017): a transfer
    lands in the artist's Stripe balance (sent); the connected account's own payout to the
    bank, on its schedule, takes it on (in transit) and ends `payout.paid` (arrived) or
    `payout.failed` (bank failed: the money returns to the artist's Stripe balance, and
    Stripe pays it out again once the bank details are fixed). A reversed transfer takes the
    money back to the platform: it is owed again."""

    class Status(models.TextChoices):
        PENDING = "pending", "Planned"
        SENT = "sent", "Sent to your Stripe balance"
        IN_TRANSIT = "in_transit", "On its way to your bank"
        ARRIVED = "arrived", "Arrived"
        BANK_FAILED = "bank_failed", "Bank failed"
        FAILED = "failed", "Not sent"
        REVERSED = "reversed", "Reversed"
        DISCARDED = "discarded", "Discarded"

    FINAL = (Status.FAILED, Status.REVERSED, Status.DISCARDED)
    # Money that left the platform and has not come back.
    PAID_OUT = (Status.SENT, Status.IN_TRANSIT, Status.ARRIVED, Status.BANK_FAILED)

    run = models.ForeignKey(PayoutRun, on_delete=models.PROTECT, related_name="payouts")
    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    connected_account = models.ForeignKey(ConnectedAccount, on_delete=models.PROTECT, related_name="payouts")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    idempotency_key = models.CharField(max_length=100, unique=True)
    stripe_transfer_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    stripe_destination_payment = models.CharField(
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text="The transfer's payment in the artist's Stripe balance (py_…): how the account's payouts name it.",
    )
    stripe_payout_id = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="The connected account's payout (po_…) that carries the money now.",
    )
    stripe_payout_created = models.BigIntegerField(null=True, blank=True)
    arrival_date = models.DateField(null=True, blank=True, help_text="When Stripe expects it in the bank.")
    failure_code = models.CharField(max_length=64, blank=True)
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    in_transit_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True, help_text="When it arrived (payout.paid).")
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "artist", "currency"], name="payout_once_per_run_artist_currency"),
            # Amounts are computed from the unpaid balance; a second run must not compute the
            # same money while a transfer for it is still in flight.
            models.UniqueConstraint(
                fields=["artist", "currency"],
                condition=Q(status="pending"),
                name="payout_one_in_flight_per_artist_currency",
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payout_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"Payout #{self.pk} {format_minor(self.amount_minor, self.currency)} ({self.status})"

    @property
    def is_owed_again(self) -> bool:
        """A payout whose money is back in the artist's unpaid balance (never sent, reversed)."""
        return self.status in (self.Status.FAILED, self.Status.REVERSED)

    @property
    def amount_display(self) -> str:
        return format_minor(self.amount_minor, self.currency)

    @property
    def transfer_group(self) -> str:
        # What a resumed run searches Stripe for before it sends anything.
        return self.idempotency_key


class PayoutLine(models.Model):
    """The part of a payout owed by one program, and the ledger entries it wrote."""

    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, related_name="lines")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    amount_minor = models.BigIntegerField()
    ledger_entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reversal_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    SOURCE_TYPE = "payments.payoutline"

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["payout", "program"], name="payout_line_once_per_program"),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payout_line_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount_display} of payout #{self.payout_id} for program #{self.program_id}"

    @property
    def amount_display(self) -> str:
        return format_minor(self.amount_minor, self.payout.currency)


class WebhookEvent(models.Model):
    """A Stripe event as received, stored once (unique event id) before it is processed."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (unknown type)"
        FAILED = "failed", "Failed"

    class Endpoint(models.TextChoices):
        PLATFORM = "platform", "Platform"
        CONNECT = "connect", "Connect"

    stripe_event_id = models.CharField(max_length=80, unique=True)
    type = models.CharField(max_length=80, db_index=True)
    endpoint = models.CharField(
        max_length=10,
        choices=Endpoint.choices,
        default=Endpoint.PLATFORM,
        help_text="Which endpoint (and signing secret) it came through.",
    )
    account = models.CharField(
        max_length=64, blank=True, help_text="The connected account it is about (Connect events carry `account`)."
    )
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id} ({self.status})"


class Reconciliation(models.Model):
    """One comparison of the ledger, our payouts and what Stripe lists (transfers to each
    connected account, and each account's payouts). Every difference is kept for finance:
    [{code, message, account, artist_id, payout_id, stripe_id, expected_minor, actual_minor}]."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="None: the daily check.",
    )
    accounts_checked = models.PositiveIntegerField(default=0)
    transfers_checked = models.PositiveIntegerField(default=0)
    payouts_checked = models.PositiveIntegerField(default=0)
    differences = models.JSONField(default=list, blank=True)
    difference_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why the check could not finish (Stripe unreachable).")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Reconciliation #{self.pk}: {self.difference_count} differences"
