"""A per-session cache for the pages people open most, kept correct by data versions.

Why: at program scale the artist dashboard, the studio history, the earnings page and the
moderation queue are read many times for each change to the data under them, and a
render costs 10–30 ms of queries and templates. A hit costs one cache round trip and the
page's access check (the signed-in user, and their roles for a staff page).

How it stays correct:
- A page is stored under the *versions* of the scopes it reads: ``user:<id>`` (everything
  of one person: jobs, usage, ledger, consent, shares, time, tokens, roles), ``programs``
  (program configuration: programs, consent documents, rate cards, review steps,
  rejection reasons, access policies, staff) and ``app:sharing`` (the moderation queue).
- Every model says which scopes its rows belong to (``declare``, called by each app from
  its AppConfig.ready; the engines' models are declared by the product apps that show
  them, third-party models in ``THIRD_PARTY`` below): the paths from a row to the people
  whose pages show it, the shared scopes, or ``no_pages(reason)``. ``check_declarations``
  (a system check, and tests/core/test_pagecache_rules.py) fails on a model nobody
  classified, on a path that no longer leads to a person, and on a link to a person that
  is neither a page scope nor named as ``others`` (who decided, who created).
- Every write bumps the scopes of the rows it touches, derived from those declarations:
  ``post_save`` / ``post_delete`` / ``m2m_changed`` (connected per declared model), the
  helpers ``queryset_update`` / ``bulk_create`` / ``bulk_update`` below for the writes
  Django never reports, and the engines' own signals for theirs (``generation.signals``,
  ``payments.signals``; connected by the studio and finance apps). A test reads every
  bulk write in the source and fails on one that bypasses them unexplained.
- A bump happens at once *and* again after the transaction commits
  (``transaction.on_commit``; nothing after a rollback): a reader between the two can only
  store the pre-commit page under the interim version, which the second bump retires.
- The key holds the session key, so a cached page (with its CSRF token and signed media
  links) is never served to anyone but the session it was rendered for.
- Only GET answers with status 200 are stored, only for the query parameters the page
  reads, never while flash messages are waiting, in their own cache alias, and each
  lives ``PAGE_CACHE_SECONDS`` at most (60 s by default; 0 turns the cache off), which
  bounds what changes with time alone ("3 minutes ago", a quota day rolling over)
  and what is shown of other people (an artist's new display name in the moderation queue).
- A cache outage degrades to rendering every page; it never fails a write.

A hit never skips the access check (decided in issue 17): ``cached_page`` takes the page's
check (``access=login_required``, ``access=role_required(...)``) and runs it before the
lookup, on the user loaded afresh for this request (Django's session check signs out a
deactivated account or a changed password; staff two-factor runs in middleware before).
The cache therefore only has to be right about what a page *shows*; who may see it is
decided on every request. It costs one query for the user (and one for a staff page's
roles), none where the two-factor middleware has already loaded them (production).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial, wraps
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.cache import caches
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ObjectDoesNotExist
from django.db import transaction
from django.db.models import Model, QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.http import HttpResponse

log = logging.getLogger(__name__)

VERSION_PREFIX = "pagever:"
PAGE_PREFIX = "page:"

PROGRAMS = "programs"  # program configuration that every artist page shows some of
SHARING = "app:sharing"  # the moderation queue
ARTIST_PAGE_SCOPES = (PROGRAMS,)
MODERATION_PAGE_SCOPES = (PROGRAMS, SHARING)


def page_cache_seconds() -> int:
    return int(getattr(settings, "PAGE_CACHE_SECONDS", 60))


def _cache():
    # Its own alias (settings: "pages"), so pages filling it can never evict rate-limit
    # counters or sessions.
    return caches["pages"]


def user_scope(user_id) -> str:
    return f"user:{user_id}"


# --- what each model's rows belong to ---------------------------------------------------------


@dataclass(frozen=True)
class PageScopes:
    """people: paths from a row to the users whose pages show it ("artist",
    "share_request__artist", "pk" on the user model, "user" for a group's members);
    shared: scopes every page of a kind reads (PROGRAMS, SHARING); others: the row's
    other links to people that no page of theirs shows (who decided, who created), named
    so that every link to a person is accounted for; no_pages: why no cached page shows
    the model at all."""

    people: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    others: tuple[str, ...] = ()
    no_pages: str = ""


def pages(*people: str, shared: tuple[str, ...] = (), others: tuple[str, ...] = ()) -> PageScopes:
    if not people and not shared:
        raise ValueError("pages(): name the people or the shared scopes a row belongs to, or use no_pages(reason)")
    return PageScopes(people=tuple(people), shared=tuple(shared), others=tuple(others))


def no_pages(reason: str) -> PageScopes:
    if not reason.strip():
        raise ValueError("no_pages(): say why no cached page shows the model")
    return PageScopes(no_pages=reason)


# Third-party models, in one table: installed apps that declare nothing themselves.
# Declared by the accounts app (it owns the user model and the roles).
THIRD_PARTY: dict[str, PageScopes] = {
    "auth.Group": pages("user"),  # roles are group names: renaming or deleting one changes its members' pages
    "auth.Permission": no_pages("roles are group names; no page reads permissions"),
    "contenttypes.ContentType": no_pages("framework bookkeeping, written by migrations"),
    "sessions.Session": no_pages(
        "written on every sign-in; a page is keyed by its session key, and a hit runs the "
        "page's access check on the user the session names"
    ),
    "admin.LogEntry": no_pages("the admin's own history, shown only in the admin"),
    "account.EmailAddress": pages("user"),  # allauth: the person's addresses and their verification
    "account.EmailConfirmation": no_pages("a pending confirmation key; its address row is what changes"),
    "otp_totp.TOTPDevice": pages("user"),  # staff two-factor state
    "axes.AccessAttempt": no_pages("sign-in throttling; read by the login view, never by a cached page"),
    "axes.AccessAttemptExpiration": no_pages("sign-in throttling; read by the login view, never by a cached page"),
    "axes.AccessLog": no_pages("sign-in history for the admin, written on every sign-in"),
    "axes.AccessFailureLog": no_pages("sign-in history for the admin, written on every failed sign-in"),
}


@dataclass(frozen=True)
class _Path:
    lookup: str  # for values_list()
    hops: tuple[str, ...]  # attributes to follow on an instance (the last one a column); () = ask the database
    throughs: frozenset  # the many-to-many tables the path crosses


_DECLARED: dict[type[Model], PageScopes] = {}
_PATHS: dict[type[Model], tuple[_Path, ...]] = {}


def _resolve(model: type[Model], path: str) -> _Path:
    user_model = get_user_model()
    where = f"{model._meta.label}: page-cache path {path!r}"
    if path == "pk":
        if model is not user_model:
            raise ImproperlyConfigured(f"{where}: 'pk' names a person only on the user model")
        return _Path("pk", ("pk",), frozenset())
    current: Any = model
    hops: list[str] = []
    throughs: set[type[Model]] = set()
    forward = True
    names = path.split("__")
    for i, name in enumerate(names):
        try:
            field: Any = current._meta.get_field(name)
        except FieldDoesNotExist:
            raise ImproperlyConfigured(f"{where}: {current._meta.label} has no field {name!r}") from None
        if not field.is_relation:
            raise ImproperlyConfigured(f"{where}: {current._meta.label}.{name} is not a relation")
        if field.many_to_many:
            throughs.add(getattr(field, "through", None) or field.remote_field.through)
        if field.auto_created or field.many_to_many:  # a reverse or many-to-many hop: only a query follows it
            forward = False
        hops.append(field.attname if i == len(names) - 1 and forward else name)
        current = field.related_model
    if current is not user_model:
        raise ImproperlyConfigured(f"{where}: ends at {current._meta.label}, not at {user_model._meta.label}")
    return _Path(path, tuple(hops) if forward else (), frozenset(throughs))


def _user_links(model: type[Model]) -> set[str]:
    """The model's own fields that point at a person (foreign keys and many-to-many)."""
    user_model = get_user_model()
    return {
        f.name
        for f in model._meta.get_fields()
        if f.is_relation and not f.auto_created and f.related_model is user_model
    }


def declare(declarations: Mapping[str, PageScopes]) -> None:
    """Say which scopes each model's rows belong to ("app_label.Model" → pages(...) or
    no_pages(...)) and connect the listeners that bump them. Called by each app from its
    AppConfig.ready, so web, worker and beat processes all bump."""
    for label, scopes in declarations.items():
        model = apps.get_model(label)
        paths = tuple(_resolve(model, path) for path in scopes.people)
        for name in scopes.others:
            if name not in _user_links(model):
                raise ImproperlyConfigured(
                    f"{model._meta.label}: others names {name!r}, which is not a link to a person"
                )
        if _DECLARED.get(model, scopes) != scopes:
            raise ImproperlyConfigured(f"{model._meta.label}: declared twice with different page-cache scopes")
        _DECLARED[model], _PATHS[model] = scopes, paths
        _connect(model, scopes, paths)


def _connect(model: type[Model], scopes: PageScopes, paths: tuple[_Path, ...]) -> None:
    label = model._meta.label_lower
    if not scopes.no_pages:
        # Per model, never for all senders: a delete listener turns Django's fast bulk
        # delete off for its model, which clearsessions and axes cleanups rely on.
        post_save.connect(_on_write, sender=model, dispatch_uid=f"pagecache.post_save.{label}")
        # A path only a query can follow (a group's members) is read before the row goes.
        on_delete = pre_delete if any(not p.hops for p in paths) else post_delete
        on_delete.connect(_on_write, sender=model, dispatch_uid=f"pagecache.delete.{label}")
    for field in model._meta.many_to_many:  # either end of a link may be on someone's page
        through: Any = field.remote_field.through
        m2m_changed.connect(_on_m2m, sender=through, dispatch_uid=f"pagecache.m2m.{through._meta.label_lower}")


def _paths(model: type[Model]) -> tuple[_Path, ...]:
    return _PATHS.get(model) or _PATHS.get(model._meta.concrete_model or model, ())


def _declaration(model: type[Model]) -> PageScopes | None:
    return _DECLARED.get(model) or _DECLARED.get(model._meta.concrete_model or model)


def _person_of(instance: Model, hops: tuple[str, ...]):
    obj: Any = instance
    try:
        for hop in hops[:-1]:  # a parent row: from the instance's cache, else one query
            obj = getattr(obj, hop)
            if obj is None:
                return None
    except ObjectDoesNotExist:  # the parent went first in a cascade: its own delete bumped the person
        return None
    return getattr(obj, hops[-1], None)


def scopes_for_instance(instance: Model, *, skip_through=None) -> set[str]:
    """The scopes a write to `instance` changes. skip_through: a many-to-many table whose
    link is what changed (a member joining a group changes that member's pages, not every
    other member's)."""
    model = type(instance)
    declared = _declaration(model)
    if declared is None or declared.no_pages:
        return set()
    scopes = set(declared.shared)
    for path in _paths(model):
        if skip_through is not None and skip_through in path.throughs:
            continue
        if path.hops:
            person = _person_of(instance, path.hops)
            if person is not None:
                scopes.add(user_scope(person))
        elif instance.pk is not None:
            people = model._default_manager.filter(pk=instance.pk).values_list(path.lookup, flat=True)
            scopes.update(user_scope(pk) for pk in people if pk is not None)
    return scopes


def scopes_for_queryset(queryset: QuerySet, *, skip_through=None) -> set[str]:
    """The scopes of every row `queryset` matches: one query per person path."""
    model = queryset.model
    declared = _declaration(model)
    if declared is None or declared.no_pages:
        return set()
    scopes = set(declared.shared)
    for path in _paths(model):
        if skip_through is None or skip_through not in path.throughs:
            people = queryset.order_by().values_list(path.lookup, flat=True).distinct()
            scopes.update(user_scope(pk) for pk in people if pk is not None)
    return scopes


@checks.register(checks.Tags.models)
def check_declarations(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every model is classified, and every link from a page model to a person is either a
    page scope or named in `others`."""
    errors: list[checks.CheckMessage] = []
    for model in apps.get_models():
        if app_configs is not None and model._meta.app_config not in app_configs:
            continue
        declared = _DECLARED.get(model)
        if declared is None:
            errors.append(
                checks.Error(
                    f"{model._meta.label} has no page-cache declaration",
                    hint="Declare it in its app's AppConfig.ready with pagecache.declare({...: pages(...)}) or "
                    "no_pages(reason); a third-party model in pagecache.THIRD_PARTY.",
                    obj=model,
                    id="pagecache.E001",
                )
            )
        elif not declared.no_pages:
            heads = {path.split("__")[0] for path in declared.people} | set(declared.others)
            for name in sorted(_user_links(model) - heads):
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{name} links to a person but is neither a page scope nor in others",
                        hint="Add it to pages(...) if that person's pages show the row, else to others=(...).",
                        obj=model,
                        id="pagecache.E002",
                    )
                )
    return errors


# --- versions -------------------------------------------------------------------------------


def _bump_now(scopes: Iterable[str]) -> None:
    try:
        _cache().set_many({VERSION_PREFIX + s: uuid.uuid4().hex for s in scopes}, timeout=None)
    except Exception:  # a cache outage must never fail the write that caused the bump
        log.warning("page cache: could not bump %s", sorted(scopes), exc_info=True)


class _AfterCommit(threading.local):
    def __init__(self) -> None:
        self.bumped: set[str] = set()  # scopes bumped by commit callbacks since this thread's last write


_after_commit = _AfterCommit()


def _bump_committed(scopes: frozenset[str]) -> None:
    # Every write in a transaction registers one of these; after the commit the first one
    # bumps its scopes and the others skip what was bumped since: one cache write per
    # scope per commit. A rollback drops them all (Django discards them).
    fresh = scopes - _after_commit.bumped
    if fresh:
        _bump_now(fresh)
        _after_commit.bumped |= fresh


def bump(*scopes: str) -> None:
    """Retire every cached page that read any of `scopes` (now, and once more on commit)."""
    wanted = {s for s in scopes if s}
    if not wanted:
        return
    _bump_now(wanted)
    if transaction.get_autocommit():
        return  # no transaction open: the write is already committed
    # A write after the last commit: whatever that commit bumped is older than this write
    # and must not be skipped when this transaction commits.
    _after_commit.bumped = set()
    transaction.on_commit(partial(_bump_committed, frozenset(wanted)), robust=True)


def bump_people(user_ids: Iterable) -> None:
    bump(*{user_scope(pk) for pk in user_ids if pk is not None})


def _on_write(sender, instance, **kwargs) -> None:
    if kwargs.get("raw"):  # fixtures loading
        return
    bump(*scopes_for_instance(instance))


def _through_fks(through, owner, other):
    fks = [f for f in through._meta.concrete_fields if f.is_relation]
    owner_fk = next(f for f in fks if f.related_model is owner)
    other_fk = next(f for f in fks if f.related_model is other and f is not owner_fk)
    return owner_fk, other_fk


def _on_m2m(sender, instance, action, model, pk_set, **kwargs) -> None:
    """A link changed: both ends' pages (user.groups.add(g) changes the user; g.user_set
    .remove(u) changes u; g.user_set.clear() changes the members it had, read before)."""
    if action in ("post_add", "post_remove", "post_clear"):
        scopes = scopes_for_instance(instance, skip_through=sender)
        if pk_set:
            scopes |= scopes_for_queryset(model._default_manager.filter(pk__in=pk_set), skip_through=sender)
        bump(*scopes)
    elif action == "pre_clear":
        owner_fk, other_fk = _through_fks(sender, instance._meta.concrete_model, model._meta.concrete_model)
        linked = sender._default_manager.filter(**{owner_fk.attname: instance.pk}).values_list(other_fk.attname)
        bump(*scopes_for_queryset(model._default_manager.filter(pk__in=linked), skip_through=sender))


def on_engine_write(sender, artist_ids=(), **kwargs) -> None:
    """For the engines' own signals (generation.signals.jobs_updated,
    payments.signals.payouts_updated), which announce the bulk writes of the rows they own."""
    bump_people(artist_ids)


# --- bulk writes: Django sends no signal for these, so they go through here --------------------


def _moves_people(model: type[Model], fields: Iterable[str]) -> bool:
    declared = _declaration(model)
    if declared is None or declared.no_pages:
        return False
    heads: set[str] = set()
    for path in declared.people:
        if path != "pk":  # a user row never moves to another person
            field = model._meta.get_field(path.split("__")[0])
            heads |= {field.name, getattr(field, "attname", field.name)}
    return bool(heads & set(fields))


def queryset_update(queryset: QuerySet, **fields) -> int:
    """``queryset.update(**fields)`` that retires the pages of the rows it changes: their
    people are read first (and again after, when the update hands rows to other people)."""
    moves = _moves_people(queryset.model, fields)
    pks = list(queryset.values_list("pk", flat=True)) if moves else []
    scopes = scopes_for_queryset(queryset)
    count = queryset.update(**fields)
    if count:
        if moves:
            scopes |= scopes_for_queryset(queryset.model._default_manager.filter(pk__in=pks))
        bump(*scopes)
    return count


def bulk_create(model: type[Model], objs: Iterable[Model], **kwargs) -> list:
    """``Model.objects.bulk_create`` that retires the pages the new rows appear on."""
    created = model._default_manager.bulk_create(objs, **kwargs)
    bump(*set().union(*(scopes_for_instance(obj) for obj in created)))
    return created


def bulk_update(model: type[Model], objs: Iterable[Model], fields: Iterable[str], **kwargs) -> int:
    """``Model.objects.bulk_update`` that retires the pages of the rows it changes."""
    objs, fields = list(objs), list(fields)
    scopes: set[str] = set()
    if _moves_people(model, fields):  # the people the rows belonged to before
        scopes = scopes_for_queryset(model._default_manager.filter(pk__in=[obj.pk for obj in objs]))
    count = model._default_manager.bulk_update(objs, fields, **kwargs)
    bump(*scopes.union(*(scopes_for_instance(obj) for obj in objs)))
    return count


# --- the page decorator -----------------------------------------------------------------------


def _has_pending_messages(request) -> bool:
    return bool(request.COOKIES.get("messages")) or "_messages" in request.session


def _lookup(page_key: str, scopes: list[str]) -> tuple[list[str], Any]:
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


def cached_page(*, access: Callable, scopes: tuple[str, ...], params: tuple[str, ...] = ()):
    """Serve a signed-in GET page from the cache while the person's data and `scopes` are
    unchanged. `access`: the page's access check, a view decorator (login_required,
    role_required(...)); it runs before the cache is looked at, on every request, so a hit
    never skips it. `params`: the query parameters the view reads; a request with any other
    is rendered, never stored (so nobody can fill the cache with ?x=1, ?x=2, ...).

    One entry per session and page, holding the versions it was rendered under (read
    *before* rendering, so a write racing the render leaves the entry already outdated).
    A cache outage degrades to rendering every time."""

    def decorator(view):
        @wraps(view)
        def cached(request, *args, **kwargs):
            timeout = page_cache_seconds()
            if timeout <= 0 or request.method != "GET" or set(request.GET) - set(params):
                return view(request, *args, **kwargs)
            user = request.user  # loaded and checked by `access` already
            session_key = request.session.session_key
            if not user.is_authenticated or not session_key or _has_pending_messages(request):
                return view(request, *args, **kwargs)
            page_scopes = [user_scope(user.pk), *scopes]
            key = (
                PAGE_PREFIX
                + hashlib.sha256(
                    "\x1f".join(
                        [
                            view.__module__,
                            view.__qualname__,
                            session_key,
                            request.path,
                            *(f"{name}={request.GET.get(name, '')}" for name in params),
                            request.headers.get("HX-Request", ""),
                            *page_scopes,
                        ]
                    ).encode()
                ).hexdigest()
            )
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
            rendered_for_this_session = (
                request.user.is_authenticated
                and request.user.pk == user.pk
                and request.session.session_key == session_key
            )
            if (
                response.status_code == 200
                and rendered_for_this_session
                and not response.streaming
                and not response.cookies
            ):
                if hasattr(response, "render") and callable(response.render):
                    response.render()
                try:
                    _cache().set(key, (versions, response.content, response["Content-Type"]), timeout)
                    response["X-Page-Cache"] = "miss"
                except Exception:
                    log.warning("page cache: could not store a page", exc_info=True)
            return response

        return access(cached)

    return decorator
