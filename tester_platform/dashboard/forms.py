"""Forms of the staff console. They turn what a person typed into the arguments of a
service (money into minor units, a pasted list or a CSV into addresses); every rule about
the values themselves is the service's, whose errors come back onto these fields."""

from __future__ import annotations

import csv
import io
import re

from django import forms

from payments.money import format_minor_plain, parse_minor
from tester_platform.programs.models import Program, ProgramStaff
from tester_platform.programs.services import MAX_INVITATIONS_AT_ONCE, SETTINGS_RANGES

MAX_CSV_BYTES = 256 * 1024
CURRENCIES = [("EUR", "EUR (€)"), ("USD", "USD ($)"), ("GBP", "GBP (£)")]


class ProgramSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Markdown; artists read it before they join.",
    )
    daily_compute_seconds = forms.IntegerField(
        label="Compute seconds per artist per day",
        min_value=SETTINGS_RANGES["daily_compute_seconds"][0],
        max_value=SETTINGS_RANGES["daily_compute_seconds"][1],
    )
    max_concurrent_jobs = forms.IntegerField(
        label="Jobs at once per artist",
        min_value=SETTINGS_RANGES["max_concurrent_jobs"][0],
        max_value=SETTINGS_RANGES["max_concurrent_jobs"][1],
    )
    max_resolution = forms.ChoiceField(label="Highest resolution", choices=Program.Resolution.choices)
    max_duration_seconds = forms.IntegerField(
        label="Longest video (seconds)",
        min_value=SETTINGS_RANGES["max_duration_seconds"][0],
        max_value=SETTINGS_RANGES["max_duration_seconds"][1],
    )
    share_review_hours = forms.IntegerField(
        label="Share review deadline (hours)",
        min_value=SETTINGS_RANGES["share_review_hours"][0],
        max_value=SETTINGS_RANGES["share_review_hours"][1],
    )
    share_approve_on_expiry = forms.BooleanField(label="No decision by the deadline means approved", required=False)

    @classmethod
    def initial_for(cls, program: Program) -> dict:
        return {name: getattr(program, name) for name in cls.base_fields}


class PauseForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, label="Why (kept in the audit trail)")


_SEPARATORS = re.compile(r"[,;]")


class InvitationsForm(forms.Form):
    """Either a pasted list (one address a line, or separated by commas or semicolons) or a
    CSV file (an "email" column, else the first column). `entries` is then a list of
    (where it was, address) for the service and for pointing at a bad line."""

    emails = forms.CharField(
        required=False,
        label="Email addresses",
        widget=forms.Textarea(attrs={"rows": 5, "autocomplete": "off"}),
        help_text="One a line, or separated by commas or semicolons.",
    )
    csv_file = forms.FileField(
        required=False, label="Or a CSV file", help_text="With an “email” column, or the addresses in the first column."
    )

    def clean(self):
        cleaned = super().clean()
        entries: list[tuple[str, str]] = []
        for number, line in enumerate((cleaned.get("emails") or "").splitlines(), start=1):
            for item in _SEPARATORS.split(line):
                if item.strip():
                    entries.append((f"line {number}", item.strip()))
        upload = cleaned.get("csv_file")
        if upload is not None:
            entries.extend(self._csv_entries(upload))
        if not entries and not self.errors:
            raise forms.ValidationError("Paste at least one email address, or choose a CSV file.")
        if len(entries) > MAX_INVITATIONS_AT_ONCE:
            raise forms.ValidationError(f"At most {MAX_INVITATIONS_AT_ONCE} addresses at once ({len(entries)} given).")
        self.entries = entries
        return cleaned

    def _csv_entries(self, upload) -> list[tuple[str, str]]:
        if upload.size > MAX_CSV_BYTES:
            self.add_error("csv_file", f"The file is larger than {MAX_CSV_BYTES // 1024} KB.")
            return []
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            self.add_error("csv_file", "The file is not UTF-8 text; export it from your spreadsheet as CSV (UTF-8).")
            return []
        try:
            rows = list(csv.reader(io.StringIO(text)))
        except csv.Error as error:
            self.add_error("csv_file", f"This is not a readable CSV file ({error}).")
            return []
        column, start = 0, 0
        if rows:
            header = [cell.strip().lower() for cell in rows[0]]
            if "email" in header:
                column, start = header.index("email"), 1
        entries = []
        for number, row in enumerate(rows[start:], start=start + 1):
            value = row[column].strip() if len(row) > column else ""
            if value:
                entries.append((f"CSV row {number}", value))
        return entries


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("decline", "Decline")])
    reason = forms.CharField(required=False, max_length=2000)


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000)


class RateCardForm(forms.Form):
    """Amounts as money ("25.00"), turned into integer minor units by payments.money."""

    MONEY = {
        "hourly_rate_minor": "Hourly rate for accepted testing time",
        "pay_floor_hourly_minor": "Guaranteed minimum per hour",
        "share_bonus_minor": "Per approved share",
        "bounty_low_minor": "Low-severity report",
        "bounty_medium_minor": "Medium-severity report",
        "bounty_high_minor": "High-severity report",
        "bounty_critical_minor": "Critical report",
        "marketing_licence_minor": "Per output used in marketing",
        "minimum_payout_minor": "Smallest payout",
    }

    currency = forms.ChoiceField(choices=CURRENCIES, initial="EUR")
    daily_time_cap_minutes = forms.IntegerField(
        label="Most testing minutes per artist per day", min_value=1, max_value=24 * 60, initial=12 * 60
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in self.MONEY.items():
            self.fields[name] = forms.CharField(
                label=label, max_length=20, initial="0.00", widget=forms.TextInput(attrs={"inputmode": "decimal"})
            )
        # Amounts first, in the order above; currency, cap and notes after.
        order = ["currency", *self.MONEY, "daily_time_cap_minutes", "notes"]
        self.order_fields(order)

    @classmethod
    def initial_for(cls, card) -> dict:
        if card is None:
            return {}
        initial = {name: format_minor_plain(getattr(card, name), card.currency) for name in cls.MONEY}
        initial.update(currency=card.currency, daily_time_cap_minutes=card.daily_time_cap_minutes, notes=card.notes)
        return initial

    def clean(self):
        cleaned = super().clean()
        currency = cleaned.get("currency") or "EUR"
        for name in self.MONEY:
            if name in self.errors or name not in cleaned:
                continue
            try:
                amount = parse_minor(cleaned[name], currency)
            except ValueError as error:
                self.add_error(name, str(error))
                continue
            if amount < 0:
                self.add_error(name, "Amounts cannot be negative.")
                continue
            cleaned[name] = amount
        return cleaned

    def terms(self) -> dict:
        return {name: self.cleaned_data[name] for name in ["currency", *self.MONEY, "daily_time_cap_minutes", "notes"]}


class ConsentDraftForm(forms.Form):
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        label="Agreement text",
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="Markdown. Once published, this version never changes.",
    )


class StaffGrantForm(forms.Form):
    email = forms.EmailField(label="Their account's email")
    role = forms.ChoiceField(choices=ProgramStaff.Role.choices)

    def __init__(self, *args, can_grant_manager: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_grant_manager:
            self.fields["role"].choices = [(ProgramStaff.Role.MODERATOR, ProgramStaff.Role.MODERATOR.label)]
            self.fields["role"].help_text = "Only an administrator makes someone a program manager."


class AnnouncementForm(forms.Form):
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        label="Message",
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown. Every tester of the program finds it in their inbox.",
    )
    email = forms.BooleanField(required=False, label="Also email it (to testers who did not switch announcements off)")
