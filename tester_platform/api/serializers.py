"""Serializers of the API's own endpoints: the bearer token exchange. Each workflow app keeps
the serializers of its endpoints beside its api.py."""

from __future__ import annotations

from rest_framework import serializers


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=200, trim_whitespace=False)
    name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    otp = serializers.RegexField(
        r"^[0-9]{6,8}$",
        required=False,
        help_text=(
            "Staff only, while staff two-factor sign-in is required: the current code from the authenticator app."
        ),
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    scopes = serializers.ListField(child=serializers.CharField())
