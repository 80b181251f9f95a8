from __future__ import annotations

import datetime as dt

from django import forms

from tester_platform.common.days import local_day
from tester_platform.programs.models import Program


class PayoutRunForm(forms.Form):
    program = forms.ModelChoiceField(
        queryset=Program.objects.order_by("name"), required=False, empty_label="All programs"
    )
    period_end = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="Everything earned up to the end of this day is paid."
    )

    def clean_period_end(self):
        value = self.cleaned_data["period_end"]
        if value > local_day():
            raise forms.ValidationError("A period cannot end in the future.")
        return value


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    program = forms.ModelChoiceField(
        queryset=Program.objects.order_by("name"), required=False, empty_label="All programs"
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end"):
            if data["start"] > data["end"]:
                raise forms.ValidationError("The period starts after it ends.")
            if data["end"] - data["start"] > dt.timedelta(days=3660):
                raise forms.ValidationError("A period is at most ten years.")
        return data
