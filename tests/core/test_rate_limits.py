"""Rate limits count atomically: 180 concurrent requests on one token get at most the
documented 120 a minute through on Redis, and sequential requests stop at the limit on the
demo's file cache."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import override_settings
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from tester_platform.access.models import AccessPolicy
from tester_platform.access.throttles import ArtistRateThrottle, TokenRateThrottle
from tester_platform.api.services import token_create

REDIS_URL = "redis://127.0.0.1:6379/1"


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


class Ping(APIView):
    """A real DRF view behind the real throttles; authentication is forced by the factory."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenRateThrottle, ArtistRateThrottle]

    def get(self, request):
        return Response({"ok": True})


def _caches(default: dict) -> dict:
    return {**django_settings.CACHES, "default": default}


def _get(user, token):
    request = APIRequestFactory().get("/ping/")
    force_authenticate(request, user=user, token=token)
    return Ping.as_view()(request)


@pytest.mark.skipif(not _redis_answers(), reason="no Redis at 127.0.0.1:6379")
@pytest.mark.django_db(transaction=True)  # the threads' own connections must see the token
def test_180_concurrent_requests_on_one_token_get_at_most_the_limit_through_on_redis(artist):
    token, _ = token_create(user=artist, name="leaked")
    limit = AccessPolicy().requests_per_minute_per_token
    assert limit == 120  # the documented default
    # Its own key space: nothing of another run or test, and no flush of a shared Redis.
    redis_cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"atelier-test-throttle-{os.getpid()}-{uuid.uuid4().hex[:8]}",
    }
    statuses: list[int] = []
    # 60 clients released at once, 3 requests each: 180 requests racing on one counter.
    # (Not 180 threads: each request reads the database, and PostgreSQL's default
    # max_connections is 100 — the CI's PostgreSQL pass would answer 503 instead.)
    clients, per_client = 60, 3
    start = threading.Barrier(clients)

    def one_client():
        try:
            start.wait()
            for _ in range(per_client):
                statuses.append(_get(artist, token).status_code)
        finally:
            connection.close()

    with override_settings(CACHES=_caches(redis_cache)):
        threads = [threading.Thread(target=one_client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    print(f"redis: {statuses.count(200)} of 180 concurrent requests got through (limit {limit})")
    assert len(statuses) == 180
    assert statuses.count(200) == limit and statuses.count(429) == 180 - limit


def test_sequential_requests_stop_at_the_limit_on_the_file_cache(artist, program, tmp_path):
    AccessPolicy.objects.create(program=program, requests_per_minute_per_token=5)
    token, _ = token_create(user=artist, name="t")
    file_cache = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
    with override_settings(CACHES=_caches(file_cache)):
        responses = [_get(artist, token) for _ in range(8)]
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 3
    assert 1 <= int(responses[-1]["Retry-After"]) <= 60


def test_a_window_keeps_its_count_when_the_caches_default_timeout_is_shorter(artist, program, tmp_path):
    """The file cache's incr re-sets the counter with the cache's default timeout; the throttle
    gives it back the rest of the window, or a pause would reset the limit."""
    AccessPolicy.objects.create(program=program, requests_per_minute_per_token=3)
    token, _ = token_create(user=artist, name="t")
    file_cache = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(tmp_path),
        "TIMEOUT": 1,
    }
    with override_settings(CACHES=_caches(file_cache)):
        assert [_get(artist, token).status_code for _ in range(3)] == [200] * 3
        time.sleep(1.5)
        assert _get(artist, token).status_code == 429


def test_deleting_the_throttle_key_resets_the_artists_window(artist, program, tmp_path):
    """What access.services does when it suspends a leaked token: the artist's other tokens
    must not stay under the limit the flood exhausted."""
    from django.core.cache import cache

    AccessPolicy.objects.create(program=program, requests_per_minute_per_artist=2)
    token, _ = token_create(user=artist, name="t")
    file_cache = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
    with override_settings(CACHES=_caches(file_cache)):
        assert [_get(artist, token).status_code for _ in range(3)] == [200, 200, 429]
        cache.delete(f"throttle:user:{artist.pk}")
        assert _get(artist, token).status_code == 200
