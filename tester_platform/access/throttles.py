"""Rate limits per token and per artist, from the strictest program policy of the user.
Answered with 429 and Retry-After by DRF. The generation quota stays the hard cap; these
limits stop a flood before it reaches the quota check."""
from __future__ import annotations

import time

from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from tester_platform.access.services import policy_for_user
from tester_platform.api.models import ApiToken


class _PolicyThrottle(BaseThrottle):
    period = 60

    def limit(self, request, policy) -> int:
        raise NotImplementedError

    def key(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return True
        key = self.key(request)
        if key is None:
            return True
        limit = self.limit(request, policy_for_user(request.user))
        now = time.time()
        history = [t for t in cache.get(key, []) if t > now - self.period]
        if len(history) >= limit:
            self.wait_seconds = max(1.0, history[0] + self.period - now)
            return False
        history.append(now)
        cache.set(key, history, self.period)
        return True

    def wait(self):
        return getattr(self, "wait_seconds", None)


class TokenRateThrottle(_PolicyThrottle):
    def key(self, request):
        return f"throttle:token:{request.auth.pk}" if isinstance(request.auth, ApiToken) else None

    def limit(self, request, policy):
        return policy.requests_per_minute_per_token


class ArtistRateThrottle(_PolicyThrottle):
    def key(self, request):
        return f"throttle:user:{request.user.pk}"

    def limit(self, request, policy):
        return policy.requests_per_minute_per_artist


class GenerationSubmitThrottle(_PolicyThrottle):
    period = 3600

    def key(self, request):
        return f"throttle:generate:{request.user.pk}"

    def limit(self, request, policy):
        return policy.generations_per_hour_per_artist
