"""Rate limits per token and per artist, from the strictest program policy of the user.
Answered with 429 and Retry-After by DRF. The generation quota stays the hard cap; these
limits stop a flood before it reaches the quota check.

Counting is one atomic increment per request: a window's counter is moved with
`cache.incr` (Redis INCR), never read as a list, appended to and written back, which let
180 concurrent requests on one token all through a limit of 120 a minute. A window starts
with the first request after the previous window ended and lasts `period` seconds: its
start is stored under the throttle's key (created with `cache.add`, so concurrent first
requests agree on one start), and the count under that key plus the start. Deleting the
throttle's key therefore resets the limit at once (access.services does it for an
artist whose leaked token was suspended).

The demo's default file-based cache has no atomic increment (Django's generic incr is a read and a
write), so concurrent requests there can overshoot a limit; sequential requests stop at it. Production
requires Redis (CACHE_URL), where INCR is atomic.
"""

from __future__ import annotations

import math
import time

from django.core.cache import cache, caches
from django.core.cache.backends.base import BaseCache
from rest_framework.throttling import BaseThrottle

from tester_platform.access.services import policy_for_user
from tester_platform.api.models import ApiToken


def _window_start(key: str, period: int, now: float) -> float:
    start = cache.get(key)
    if start is not None:
        return start
    if cache.add(key, now, timeout=period):
        return now
    # Another request opened the window between our get and add: count in its window.
    start = cache.get(key)
    return now if start is None else start


def _count(key: str, start: float, period: int, now: float) -> int:
    counter = f"{key}:{int(start * 1000)}"
    try:
        count = cache.incr(counter)
    except ValueError:  # the window's first request (or its counter was evicted)
        # One second past the window, so the counter outlives every request that reads it.
        cache.add(counter, 0, timeout=period + 1)
        count = cache.incr(counter)
    if type(caches["default"]).incr is BaseCache.incr:
        # The generic incr re-sets the value with the cache's default timeout; give the
        # counter back the rest of its window, or an idle spell would forget the count.
        cache.touch(counter, timeout=max(1, math.ceil(start + period - now)) + 1)
    return count


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
        start = _window_start(key, self.period, now)
        if _count(key, start, self.period, now) <= limit:
            return True
        self.wait_seconds = max(1.0, start + self.period - now)
        return False

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
