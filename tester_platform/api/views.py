"""The API's own endpoints: exchanging a password for a bearer token and revoking it. Every
other operation lives with its workflow app (`<app>/api.py`, routed by tester_platform.api.urls)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from tester_platform.api import serializers as s
from tester_platform.api.authentication import BearerTokenAuthentication
from tester_platform.api.services import otp_code_valid, token_create, token_revoke
from tester_platform.common.http import client_ip


class TokenView(APIView):
    """Exchange email + password for a bearer token, or revoke the token in use."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        return "Bearer"  # so a failed sign-in is a 401, not DRF's header-less 403

    @extend_schema(request=s.TokenRequestSerializer, responses={201: s.TokenResponseSerializer})
    def post(self, request):
        data = s.TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = authenticate(
                request._request,
                username=data.validated_data["email"].lower(),
                password=data.validated_data["password"],
            )
        except DjangoPermissionDenied:  # a backend refused the sign-in outright: the same 401 as a wrong password
            user = None
        if user is None:
            raise AuthenticationFailed("Email or password is wrong.")
        token, raw = token_create(
            user=user,
            name=data.validated_data.get("name", ""),
            ip_address=client_ip(request),
            second_factor=otp_code_valid(user=user, code=data.validated_data.get("otp")),
        )
        return Response(
            {"token": raw, "expires_at": token.expires_at, "scopes": token.scopes}, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=None,
        responses={204: None},
        auth=[{"bearerAuth": []}],
        description="Revokes the bearer token this request is authenticated with.",
    )
    def delete(self, request):
        result = BearerTokenAuthentication().authenticate(request)
        if result is None:
            raise NotAuthenticated("Send the token to revoke as Authorization: Bearer <token>.")
        user, token = result
        token_revoke(token=token, actor=user)
        return Response(status=status.HTTP_204_NO_CONTENT)
