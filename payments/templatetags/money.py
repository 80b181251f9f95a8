"""The one template filter for money: `{{ amount_minor|money:currency }}` → "€48.33".

Templates never show minor units: every amount goes through payments.money.format_minor,
as the rest of the code does. An empty amount shows as "—"."""

from __future__ import annotations

from django import template

from payments.money import format_minor

register = template.Library()


@register.filter(name="money")
def money(amount_minor: int | str | None, currency: str = "EUR") -> str:
    if amount_minor is None or amount_minor == "":
        return "—"
    return format_minor(int(amount_minor), str(currency or "EUR"))
