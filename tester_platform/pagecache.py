"""A per-session cache for the pages people open most, kept correct by data versions.

Why: at program scale the artist dashboard, the studio history, the earnings page and the
moderation queue are read many times for each change to the data under them, and a
render costs 10–30 ms of queries and templates. A hit costs one cache round trip and no
query.

How it stays correct:
- A page is stored under the *versions* of the scopes it reads: ``user:<id>`` (everything
  of one person: jobs, usage, ledger, consent, shares, time, tokens, roles), ``programs``
  (program configuration: programs, consent documents, rate cards, review steps,
  rejection reasons, access policies, staff) and ``app:sharing`` (the moderation queue).
- Every write bumps the scopes it touches: ``post_save`` / ``post_delete`` /
  ``m2m_changed`` for ordinary saves (connected for every model, below), and the engines'
  own signals for the writes Django never reports (``QuerySet.update`` and
  ``bulk_create`` in ``generation.signals`` and ``payments.signals``). A person's version
  covers everything an access decision reads, which is why a hit may skip the login and
  role checks (see ``cached_page``).
- A bump happens at once *and* again after the transaction commits: a reader between the
  two can only store the pre-commit page under the interim version, which the second
  bump retires.
- The key holds the session key, so a cached page (with its CSRF token and signed media
  links) is never served to anyone but the session it was rendered for.
- Only GET answers with status 200 are stored, only for the query parameters the page
  reads, never while flash messages are waiting, in their own cache alias, and each
  lives ``PAGE_CACHE_SECONDS`` at most (60 s by default; 0 turns the cache off), which
  bounds what changes with time alone ("3 minutes ago", a quota day rolling over)
  and what is shown of other people (an artist's new display name in the moderation queue).
- A cache outage degrades to rendering every page; it never fails a write.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from functools import wraps
from typing import Iterable

from django.apps import apps
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.http import HttpResponse

log = logging.getLogger(__name__)

VERSION_PREFIX = "pagever:"
PAGE_PREFIX = "page:"

# Program configuration that every artist page shows some of (names, rates, documents).
CONFIG_MODELS = frozenset({
    "programs.program", "programs.programstaff", "consent.consentdocument", "payments.ratecard",
    "sharing.reviewstep", "sharing.rejectionreason", "access.accesspolicy",
})
# Writes that change what no cached page shows, and happen often (every API call, every
# worker heartbeat): skipping them keeps the cache quiet.
IGNORED_MODELS = frozenset({
    "access.tokenactivity", "generation.worker", "audit.auditevent", "audit.auditchainhead",
    "sessions.session", "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog",
    "admin.logentry", "contenttypes.contenttype", "auth.permission",
})
# Models that reach their person through a parent rather than an artist/user column.
_PERSON_VIA = {
    "sharing.shareevent": ("share_request", "artist_id"),
    "payments.payoutline": ("payout", "artist_id"),
}
_PERSON_FIELDS = ("artist_id", "user_id")


ARTIST_PAGE_SCOPES = ("programs",)
MODERATION_PAGE_SCOPES = ("programs", "app:sharing")


def page_cache_seconds() -> int:
    return int(getattr(settings, "PAGE_CACHE_SECONDS", 60))


def _cache():
    # Its own alias (settings: "pages"), so pages filling it can never evict rate-limit
    # counters or sessions.
    return caches["pages"]


def user_scope(user_id) -> str:
    return f"user:{user_id}"


# --- versions -------------------------------------------------------------------------------

def _bump_now(scopes: Iterable[str]) -> None:
    try:
        _cache().set_many({VERSION_PREFIX + s: uuid.uuid4().hex for s in scopes}, timeout=None)
    except Exception:  # a cache outage must never fail the write that caused the bump
        log.warning("page cache: could not bump %s", sorted(scopes), exc_info=True)


def bump(*scopes: str) -> None:
    """Retire every cached page that read any of `scopes` (now and once more on commit)."""
    scopes = {s for s in scopes if s}
    if not scopes:
        return
    _bump_now(scopes)
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return  # autocommit: the write is already committed
    # One callback per transaction gathers its scopes. A rolled-back block drops its
    # callback from run_on_commit, so the next write registers a fresh one.
    for _, callback, *_rest in connection.run_on_commit:
        pending = getattr(callback, "page_scopes", None)
        if pending is not None:
            pending.update(scopes)
            return

    def bump_committed() -> None:
        _bump_now(bump_committed.page_scopes)

    bump_committed.page_scopes = set(scopes)
    transaction.on_commit(bump_committed, robust=True)


def bump_people(user_ids: Iterable) -> None:
    bump(*{user_scope(pk) for pk in user_ids if pk is not None})


def scopes_for_instance(instance) -> set[str]:
    label = instance._meta.label_lower
    if label in IGNORED_MODELS:
        return set()
    scopes: set[str] = set()
    if label in CONFIG_MODELS:
        scopes.add("programs")
    if instance._meta.app_label == "sharing":
        scopes.add("app:sharing")
    if label == settings.AUTH_USER_MODEL.lower():
        scopes.add(user_scope(instance.pk))
    for field in _PERSON_FIELDS:
        person = getattr(instance, field, None)
        if person is not None:
            scopes.add(user_scope(person))
    if label in _PERSON_VIA:
        parent, field = _PERSON_VIA[label]
        person = getattr(getattr(instance, parent, None), field, None)
        if person is not None:
            scopes.add(user_scope(person))
    if label == "auth.group":  # roles are group names: renaming or deleting a group changes its members'
        scopes.update(user_scope(pk) for pk in instance.user_set.values_list("pk", flat=True))
    return scopes


def _on_write(sender, instance, **kwargs) -> None:
    if kwargs.get("raw"):  # fixtures loading
        return
    bump(*scopes_for_instance(instance))


def _on_m2m(sender, instance, action, model, pk_set, **kwargs) -> None:
    """user.groups.add(...) changes the user; group.user_set.remove(...) changes the users
    in pk_set; group.user_set.clear() changes the members it had (read before the clear)."""
    people = model is get_user_model()
    if action in ("post_add", "post_remove", "post_clear"):
        bump(*scopes_for_instance(instance))
        if people and pk_set:
            bump_people(pk_set)
    elif action == "pre_clear" and people:
        person_fk = next(f for f in sender._meta.concrete_fields if f.is_relation and f.related_model is model)
        owner_fk = next(f for f in sender._meta.concrete_fields
                        if f.is_relation and f.related_model is type(instance))
        bump_people(sender.objects.filter(**{owner_fk.attname: instance.pk})
                    .values_list(person_fk.attname, flat=True))


def _on_engine_write(sender, artist_ids=(), **kwargs) -> None:
    bump_people(artist_ids)


def connect() -> None:
    """Called from PortalConfig.ready, so web, worker and beat processes all bump."""
    from generation.signals import jobs_updated
    from payments.signals import payouts_updated

    # Per model, never for all senders: a post_delete listener turns Django's fast bulk
    # delete off for its model, which clearsessions and axes cleanups rely on.
    for model in apps.get_models():
        label = model._meta.label_lower
        if label not in IGNORED_MODELS:
            post_save.connect(_on_write, sender=model, dispatch_uid=f"pagecache.post_save.{label}")
            post_delete.connect(_on_write, sender=model, dispatch_uid=f"pagecache.post_delete.{label}")
    # Deleting a group removes its memberships without any signal: bump its members while
    # they are still readable.
    pre_delete.connect(_on_write, sender=Group, dispatch_uid="pagecache.pre_delete.group")
    m2m_changed.connect(_on_m2m, dispatch_uid="pagecache.m2m_changed")
    jobs_updated.connect(_on_engine_write, dispatch_uid="pagecache.jobs_updated")
    payouts_updated.connect(_on_engine_write, dispatch_uid="pagecache.payouts_updated")


# --- the page decorator -----------------------------------------------------------------------

def _has_pending_messages(request) -> bool:
    return bool(request.COOKIES.get("messages")) or "_messages" in request.session


def _lookup(page_key: str, scopes: list[str]) -> tuple[list[str], object]:
    """The current versions of `scopes` and the stored page, in one cache round trip."""
    version_keys = [VERSION_PREFIX + s for s in scopes]
    store = _cache()
    found = store.get_many([page_key, *version_keys])
    missing = [k for k in version_keys if k not in found]
    if missing:
        # A scope never bumped (or evicted) gets a fresh version, never a guessable default,
        # so a page stored before an eviction can't come back as current.
        for key in missing:
            store.add(key, uuid.uuid4().hex, timeout=None)
        found.update(store.get_many(missing))
    return [str(found.get(k, "")) for k in version_keys], found.get(page_key)


def cached_page(*, scopes: tuple[str, ...], params: tuple[str, ...] = ()):
    """Serve a signed-in GET page from the cache while the person's data and `scopes` are
    unchanged. `params`: the query parameters the view reads; a request with any other is
    rendered, never stored (so nobody can fill the cache with ?x=1, ?x=2, ...).

    It wraps the login / role check, and a hit skips it (and loading the user): a hit needs
    an earlier render *for this session* that passed the check, under the same version of
    the person's data; everything an access decision reads (password, active flag, groups,
    staff assignments, enrollments, access flags) is that person's data and bumps it.
    Staff two-factor is enforced by middleware before this runs.

    One entry per session and page, holding the versions it was rendered under (read
    *before* rendering, so a write racing the render leaves the entry already outdated).
    A cache outage degrades to rendering every time."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            timeout = page_cache_seconds()
            if timeout <= 0 or request.method != "GET" or set(request.GET) - set(params):
                return view(request, *args, **kwargs)
            user_id = request.session.get(SESSION_KEY)
            session_key = request.session.session_key
            if not user_id or not session_key or _has_pending_messages(request):
                return view(request, *args, **kwargs)
            page_scopes = [user_scope(user_id), *scopes]
            key = PAGE_PREFIX + hashlib.sha256("\x1f".join([
                view.__module__, view.__qualname__, session_key, request.path,
                *(f"{name}={request.GET.get(name, '')}" for name in params),
                request.headers.get("HX-Request", ""), *page_scopes,
            ]).encode()).hexdigest()
            try:
                versions, stored = _lookup(key, page_scopes)
            except Exception:
                log.warning("page cache: lookup failed, rendering", exc_info=True)
                return view(request, *args, **kwargs)
            if stored is not None and stored[0] == versions:
                response = HttpResponse(stored[1], content_type=stored[2])
                response["X-Page-Cache"] = "hit"
                return response
            response = view(request, *args, **kwargs)
            rendered_for_this_session = (request.user.is_authenticated and str(request.user.pk) == str(user_id)
                                         and request.session.session_key == session_key)
            if (response.status_code == 200 and rendered_for_this_session and not response.streaming
                    and not response.cookies):
                if hasattr(response, "render") and callable(response.render):
                    response.render()
                try:
                    _cache().set(key, (versions, response.content, response["Content-Type"]), timeout)
                    response["X-Page-Cache"] = "miss"
                except Exception:
                    log.warning("page cache: could not store a page", exc_info=True)
            return response

        return wrapper

    return decorator
