from __future__ import annotations

import datetime as dt

from django import forms

from payments.models import Severity
from tester_platform.common.days import local_day
from tester_platform.labour.models import FeedbackReport


def _job_label(job) -> str:
    prompt = job.prompt if len(job.prompt) <= 60 else job.prompt[:57] + "…"
    return f"#{job.pk} · {job.created_at:%d %b %H:%M} · {prompt}"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is proven by the service (labour.evidence)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget",
            MultipleFileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif,video/mp4,video/webm"}),
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class FeedbackForm(forms.Form):
    program = forms.TypedChoiceField(coerce=int, label="Program")
    generation = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        label="About this output",
        help_text="Optional: the generation the report is about.",
    )
    generations = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        label="Other outputs that show it",
        help_text="Optional. Hold Ctrl or ⌘ to pick several.",
    )
    assignment = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    attachments = MultipleFileField(
        required=False,
        label="Evidence (images or short clips)",
        help_text="Up to 5 files: PNG, JPEG, WebP or GIF stills (10 MB), MP4 or WebM "
        "clips up to 30 s (25 MB). Only you and the program's moderators see "
        "them.",
    )
    category = forms.ChoiceField(choices=FeedbackReport.Category.choices)
    severity = forms.ChoiceField(
        choices=Severity.choices,
        initial=Severity.MEDIUM,
        help_text="Accepted reports earn the rate card's bounty for their severity.",
    )
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        label="What happened",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Steps, prompt, what you expected and what you got.",
    )

    def __init__(self, *args, programs, jobs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].choices = [(p.pk, p.name) for p in programs]
        self.fields["generation"].choices = [("", "— none —")] + [(j.pk, _job_label(j)) for j in jobs]
        self.fields["generations"].choices = [(j.pk, _job_label(j)) for j in jobs]


class RerateForm(forms.Form):
    severity = forms.ChoiceField(choices=Severity.choices, widget=forms.Select(attrs={"id": "rerate-severity"}))
    reason = forms.CharField(max_length=2000)


class TimeEntryForm(forms.Form):
    program = forms.TypedChoiceField(coerce=int, label="Program")
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="The day you did the work.")
    minutes = forms.IntegerField(label="Minutes", help_text="Whole minutes; e.g. 90 for an hour and a half.")
    description = forms.CharField(label="What you did", max_length=4000, widget=forms.Textarea(attrs={"rows": 4}))
    generations = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        label="Generations from this work",
        help_text="Optional. Hold Ctrl or ⌘ to pick several.",
    )

    def __init__(self, *args, programs, jobs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].choices = [(p.pk, p.name) for p in programs]
        self.fields["generations"].choices = [(j.pk, _job_label(j)) for j in jobs]
        self.fields["date"].widget.attrs["max"] = local_day().isoformat()
        self.fields["minutes"].widget.attrs.update({"min": 1, "max": 24 * 60, "step": 1})


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject"), ("duplicate", "Duplicate")])
    reason = forms.CharField(required=False, max_length=2000)
    duplicate_of = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


def parse_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


class TaskForm(forms.Form):
    """A task as a manager types it; money is turned into minor units here, every rule about
    the values is the service's (labour.assignments.task_publish)."""

    title = forms.CharField(max_length=200)
    instructions = forms.CharField(
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown: what to test, how, and what a good finding looks like.",
    )
    category = forms.ChoiceField(choices=[])
    estimated_minutes = forms.IntegerField(label="Estimated minutes", min_value=1, max_value=24 * 60)
    pay = forms.ChoiceField(choices=[])
    fixed_pay = forms.CharField(
        label="Fixed pay per task",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text="Only for fixed pay, e.g. 40.00 (in the rate card's currency).",
    )
    capacity = forms.IntegerField(label="How many testers", min_value=1, max_value=10_000, initial=5)
    due_at = forms.DateTimeField(
        label="Due (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    invited = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        label="Only for these testers",
        help_text="Leave empty to offer it to every tester of the program.",
    )

    def __init__(self, *args, testers=(), currency: str = "EUR", **kwargs):
        from tester_platform.labour.models import Task

        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["category"].choices = Task.Category.choices
        self.fields["pay"].choices = Task.Pay.choices
        self.fields["invited"].choices = [(t.pk, f"{t.credit_name} ({t.email})") for t in testers]

    def clean_fixed_pay(self):
        from payments.money import parse_minor

        raw = self.cleaned_data.get("fixed_pay", "")
        if not raw:
            return None
        try:
            return parse_minor(raw, self.currency)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


class AssignmentSubmitForm(forms.Form):
    note = forms.CharField(
        label="Summary of what you tested and found",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    minutes = forms.IntegerField(label="Minutes you worked", required=False, min_value=1, max_value=24 * 60)
    generations = forms.TypedMultipleChoiceField(
        coerce=int, required=False, label="Generations from this work", widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, jobs=(), hourly: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["generations"].choices = [(j.pk, _job_label(j)) for j in jobs]
        if not hourly:
            del self.fields["minutes"]
        else:
            self.fields["minutes"].required = True


class AssignmentReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("return", "Return")])
    reason = forms.CharField(required=False, max_length=2000)
