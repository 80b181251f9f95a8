from django import forms
from django.conf import settings

from tester_platform.api.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="Where you will use it, e.g. “laptop script”.")
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiToken.Scope.READ, ApiToken.Scope.GENERATE],
    )
    ttl_days = forms.IntegerField(
        min_value=1, max_value=settings.API_TOKEN_TTL_DAYS, initial=30, label="Expires after (days)"
    )


class SuspendForm(forms.Form):
    email = forms.EmailField(label="Artist's email")
    program = forms.TypedChoiceField(coerce=int)
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 2}), help_text="The artist sees this."
    )

    def __init__(self, *args, programs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].choices = [(p.pk, p.name) for p in programs]


class FlagReviewForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("undo", "Undo: restore access"), ("confirm", "Confirm: keep it suspended")], widget=forms.RadioSelect
    )
    note = forms.CharField(required=False, max_length=1000)
