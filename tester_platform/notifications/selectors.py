from __future__ import annotations

import contextlib

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet

from tester_platform.notifications.models import Announcement, Notification


def inbox_for(*, user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("program").order_by("-created_at", "-id")


def _unread_key(user_id) -> str:
    return f"inbox-unread:{user_id}"


def unread_count(*, user) -> int:
    """The nav's number, on every page: kept in the cache (no query on a hit) and dropped
    whenever the person's inbox changes (unread_count_forget)."""
    if not getattr(user, "is_authenticated", False):
        return 0
    key = _unread_key(user.pk)
    try:
        cached = cache.get(key)
    except Exception:  # a cache outage costs a query, never the page
        cached = None
    if cached is not None:
        return cached
    count = Notification.objects.filter(user=user, read_at__isnull=True).count()
    with contextlib.suppress(Exception):
        cache.set(key, count, timeout=600)
    return count


def unread_count_forget(user_ids) -> None:
    """Now and again after commit (a reader in between may have stored the old count)."""
    keys = [_unread_key(pk) for pk in user_ids]

    def forget():
        with contextlib.suppress(Exception):
            cache.delete_many(keys)

    forget()
    transaction.on_commit(forget, robust=True)


def announcements_visible_to(*, user) -> QuerySet[Announcement]:
    """Announcements of the programs the person tests in, or is staff of."""
    from tester_platform.policy import Act, programs_for
    from tester_platform.programs.models import Enrollment

    mine = Enrollment.objects.filter(artist=user).values("program_id")
    return Announcement.objects.filter(program_id__in=mine) | Announcement.objects.filter(
        program__in=programs_for(user, Act.READ)
    )
