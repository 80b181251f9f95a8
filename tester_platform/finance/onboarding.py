"""Connecting an artist's Stripe Express account (an Account Link that brings them back to
where they started), shared by the finance pages and the portal's onboarding step."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse

from tester_platform.accounts.roles import ARTIST, has_role
from tester_platform.finance.services import payout_account_connect
from tester_platform.programs.models import Enrollment


def is_artist(user) -> bool:
    return has_role(user, ARTIST) or Enrollment.objects.filter(artist=user).exists()


def connect_urls(request, next_path: str) -> tuple[str, str]:
    """(refresh_url, return_url) for an Account Link that comes back to `next_path`."""
    query = urlencode({"next": next_path})
    return (
        request.build_absolute_uri(reverse("finance:payout_refresh") + "?" + query),
        request.build_absolute_uri(reverse("finance:payout_return") + "?" + query),
    )


def start_onboarding(request, next_path: str):
    if not is_artist(request.user):
        raise PermissionDenied("Payout accounts are for artists.")
    refresh_url, return_url = connect_urls(request, next_path)
    # Stripe away or refusing: the PaymentsError is answered by the page handler
    # (tester_platform.common.handlers) with its message and status (502, 402).
    _, url = payout_account_connect(artist=request.user, refresh_url=refresh_url, return_url=return_url)
    return HttpResponseRedirect(url)


STRIPE_ONBOARDING_ORIGIN = "https://connect.stripe.com"


def allow_stripe_form_action(response):
    """A page whose form starts onboarding: the POST is answered with a redirect to Stripe,
    and browsers apply the page's CSP form-action to every redirect of a form submission."""
    origins = ["'self'", STRIPE_ONBOARDING_ORIGIN]
    if settings.STRIPE_API_BASE:
        parts = urlsplit(settings.STRIPE_API_BASE)
        origins.append(f"{parts.scheme}://{parts.netloc}")
    response._csp_update = {"form-action": origins}
    return response
