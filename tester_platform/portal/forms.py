from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation

from tester_platform.accounts.models import User


class InvitationSignUpForm(forms.Form):
    display_name = forms.CharField(max_length=120, label="Name to credit you by")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        elif p1:
            try:
                password_validation.validate_password(
                    p1, User(email=self.email, display_name=cleaned.get("display_name", ""))
                )
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        max_length=120, label="Name to credit you by", help_text="Shown on approved public shares. Your email never is."
    )
    portfolio_url = forms.URLField(required=False, label="Portfolio link")


class ConsentForm(forms.Form):
    document_version = forms.IntegerField(widget=forms.HiddenInput)
    participation = forms.BooleanField(
        label="I agree to take part in this testing program under this agreement (required)."
    )
    training_use = forms.BooleanField(
        required=False, label="My outputs and prompts may be used to train future models (optional)."
    )
    marketing_use = forms.BooleanField(
        required=False, label="The program may use my outputs in its marketing, paying the licence fee (optional)."
    )


class ApplicationForm(forms.Form):
    portfolio_url = forms.URLField(label="Portfolio link")
    statement = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}), max_length=4000, label="Why you want to test this model"
    )
