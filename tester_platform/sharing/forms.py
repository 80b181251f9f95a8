from django import forms

from tester_platform.sharing.models import ShareRequest


class ShareRequestForm(forms.Form):
    caption = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What you are sharing, as it will appear on the public page.",
    )
    destination = forms.ChoiceField(choices=ShareRequest.Destination.choices)


class AppealForm(forms.Form):
    note = forms.CharField(
        max_length=4000, widget=forms.Textarea(attrs={"rows": 3}), label="Why the decision should change"
    )


class ResubmitForm(forms.Form):
    caption = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject"), ("request_changes", "Request changes")],
        widget=forms.RadioSelect,
    )
    reason_code = forms.ChoiceField(required=False, label="Reason (required to reject)")
    note = forms.CharField(
        required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2}), label="Note to the artist"
    )

    def __init__(self, *args, reasons=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason_code"].choices = [("", "—")] + [(r.code, r.label) for r in reasons]


class AppealDecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[("overturn", "Overturn: approve"), ("uphold", "Uphold the refusal")], widget=forms.RadioSelect
    )
    note = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
