from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from payments.models import LedgerEntry, RateCard

if TYPE_CHECKING:  # the admin's classes are generic to the type checker only
    _ModelAdmin = admin.ModelAdmin[Any]
    _TabularInline = admin.TabularInline[Any, Any]
else:
    _ModelAdmin = admin.ModelAdmin
    _TabularInline = admin.TabularInline


class _ReadOnly(_ModelAdmin):
    """Engine records change only through the services: the admin shows them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(RateCard)
class RateCardAdmin(_ReadOnly):
    """Read-only: cards are drafted and published in the staff console, audited."""

    list_display = (
        "program",
        "version",
        "currency",
        "hourly_rate_minor",
        "pay_floor_hourly_minor",
        "bounty_medium_minor",
        "share_bonus_minor",
        "daily_time_cap_minutes",
        "published_at",
    )
    list_filter = ("currency",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(_ReadOnly):
    """Read-only: the ledger is append-only, corrections are new entries posted by services."""

    list_display = (
        "id",
        "created_at",
        "artist",
        "program",
        "kind",
        "amount_minor",
        "currency",
        "source_type",
        "source_id",
        "rate_card_version",
        "created_by",
    )
    list_filter = ("kind", "currency", "program")
    search_fields = ("artist__email", "source_type", "source_id", "source_label", "memo")
    date_hierarchy = "created_at"
    list_select_related = ("artist", "program", "created_by")
    readonly_fields = [f.name for f in LedgerEntry._meta.fields]


from payments.models import (  # noqa: E402
    ConnectedAccount,
    Payout,
    PayoutLine,
    PayoutRun,
    PayoutRunAttempt,
    Reconciliation,
    WebhookEvent,
)


@admin.register(ConnectedAccount)
class ConnectedAccountAdmin(_ReadOnly):
    list_display = ("artist", "stripe_account_id", "details_submitted", "payouts_enabled", "updated_at")
    search_fields = ("artist__email", "stripe_account_id")


class PayoutLineInline(_TabularInline):
    model = PayoutLine
    extra = 0
    can_delete = False
    readonly_fields = ("program", "amount_minor", "ledger_entry", "reversal_entry")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Payout)
class PayoutAdmin(_ReadOnly):
    list_display = ("id", "run", "artist", "amount_minor", "currency", "status", "stripe_transfer_id", "failure_code")
    list_filter = ("status", "currency")
    search_fields = ("artist__email", "stripe_transfer_id", "idempotency_key")
    inlines = [PayoutLineInline]


@admin.register(PayoutRun)
class PayoutRunAdmin(_ReadOnly):
    list_display = ("id", "program", "period_end", "status", "payout_count", "created_by", "approved_by", "created_at")
    list_filter = ("status",)


@admin.register(PayoutRunAttempt)
class PayoutRunAttemptAdmin(_ReadOnly):
    list_display = ("id", "run", "trigger", "actor", "started_at", "outcome", "recorded")
    list_filter = ("outcome", "trigger")


@admin.register(Reconciliation)
class ReconciliationAdmin(_ReadOnly):
    list_display = ("id", "started_at", "requested_by", "accounts_checked", "transfers_checked", "difference_count")


@admin.register(WebhookEvent)
class WebhookEventAdmin(_ReadOnly):
    list_display = (
        "stripe_event_id",
        "type",
        "endpoint",
        "account",
        "status",
        "attempts",
        "received_at",
        "processed_at",
    )
    list_filter = ("status", "endpoint", "type")
    search_fields = ("stripe_event_id",)
