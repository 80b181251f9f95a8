"""The page cache's rules check themselves (tester_platform/pagecache.py): every model is
classified, the classification still leads to people, every bulk write in the source
either bumps or says why it need not, the post-commit bump uses only the public
transaction API, and a hit never skips a page's access check."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tester_platform import pagecache

ROOT = Path(__file__).resolve().parents[2]


# --- every model is classified -------------------------------------------------------------------


def test_every_model_is_classified_and_every_link_to_a_person_accounted_for():
    assert pagecache.check_declarations() == []
    assert {m for m in apps.get_models()} <= set(pagecache._DECLARED)


def test_an_unclassified_model_or_an_unaccounted_person_link_fails_the_check(monkeypatch):
    from tester_platform.programs.models import Enrollment
    from tester_platform.sharing.models import ShareRequest

    monkeypatch.delitem(pagecache._DECLARED, Enrollment)
    monkeypatch.setitem(pagecache._DECLARED, ShareRequest, pagecache.pages("artist", others=("decided_by",)))
    errors = {(e.id, e.msg) for e in pagecache.check_declarations()}
    assert errors == {
        ("pagecache.E001", "programs.Enrollment has no page-cache declaration"),
        (
            "pagecache.E002",
            "sharing.ShareRequest.appeal_decided_by links to a person but is neither a page scope nor in others",
        ),
    }


@pytest.mark.parametrize(
    "label, declaration, message",
    [
        ("sharing.ShareRequest", pagecache.pages("program"), "ends at programs.Program, not at accounts.User"),
        ("sharing.ShareEvent", pagecache.pages("share_request__artst"), "has no field 'artst'"),
        ("payments.Payout", pagecache.pages("amount_minor"), "is not a relation"),
        ("programs.Enrollment", pagecache.pages("pk"), "'pk' names a person only on the user model"),
        ("programs.Enrollment", pagecache.pages("artist", others=("program",)), "not a link to a person"),
        ("programs.Enrollment", pagecache.no_pages("changed my mind"), "declared twice"),
    ],
)
def test_a_declaration_that_leads_nowhere_fails_at_startup(label, declaration, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        pagecache.declare({label: declaration})


def test_no_pages_needs_a_reason_and_pages_needs_a_scope():
    with pytest.raises(ValueError):
        pagecache.no_pages(" ")
    with pytest.raises(ValueError):
        pagecache.pages()


def test_each_app_declares_its_own_models_and_the_product_declares_the_engines():
    """Where each declaration lives: an app's own AppConfig.ready for its models; the
    engines' models by the product app that shows them; third-party ones in one table."""

    def declared_in(path):
        tree = ast.parse((ROOT / path).read_text())
        return {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"[a-z_]+\.[A-Z]\w+", node.value)
        }

    by_app: dict[str, set[str]] = {}
    for config in apps.get_app_configs():
        if config.name.startswith("tester_platform."):
            by_app[config.label] = declared_in(Path(*config.name.split(".")) / "apps.py")
    for model in pagecache._DECLARED:
        label = model._meta.label
        if label in pagecache.THIRD_PARTY:
            assert model._meta.app_config.name.startswith(("django.", "allauth", "axes", "django_otp"))
        elif model._meta.app_label == "generation":
            assert label in by_app["studio"]
        elif model._meta.app_label == "payments":
            assert label in by_app["finance"]
        else:
            assert label in by_app[model._meta.app_label], label


# --- what the pages read is declared ---------------------------------------------------------------

# A cached page reads these without their writes retiring it, and why that is right.
READ_WITHOUT_SCOPE = {
    "sessions.Session": "the session names the user; the key holds the session, and a hit checks the user",
}


def test_the_cached_pages_read_only_models_that_bump_them(client, artist, moderator, program):
    """Every table the cached pages query belongs to a model declared with page scopes: a
    page reading a no_pages model would never be retired by that model's writes."""
    from payments.ledger import ledger_post
    from tester_platform.notifications.services import notify
    from tester_platform.sharing.services import share_request_create
    from tests.factories import make_output

    job = make_output(artist, program)
    share_request_create(artist=artist, generation_id=job.pk, caption="kite", destination="portfolio")
    ledger_post(
        artist=artist,
        program_id=program.pk,
        kind="adjustment",
        amount_minor=500,
        currency="USD",
        source=("test.pagecache_rules", 1),
        source_label="adjustment",
    )
    notify(user=artist, kind="announcement", title="hello", body="", program=program)
    tables = {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}
    read: set[type[models.Model]] = set()
    for user, path in [
        (artist, "/"),
        (artist, "/studio/"),
        (artist, "/labour/earnings/"),
        (moderator, "/dashboard/sharing/"),
    ]:
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        for query in queries.captured_queries:
            read |= {tables[t] for t in re.findall(r'(?:FROM|JOIN) "(\w+)"', query["sql"])}
    read = {m for m in read if not m._meta.auto_created}  # link tables: m2m_changed, from both ends
    unscoped = {m._meta.label for m in read if pagecache._declaration(m).no_pages}
    assert unscoped <= set(READ_WITHOUT_SCOPE)
    assert {"generation.GenerationJob", "payments.LedgerEntry", "sharing.ShareRequest"} <= {m._meta.label for m in read}


# --- bulk writes ----------------------------------------------------------------------------------
# Django sends no signal for QuerySet.update, bulk_create or bulk_update (QuerySet.delete
# does, per row, once a model has a delete listener: test_a_queryset_delete_retires_pages).
# Every such call in the product and the engines on a model that has page scopes goes
# through pagecache.queryset_update / bulk_create / bulk_update, or is listed here with
# why it need not: (module, function, model) → reason. "*" stands for a model this reader
# cannot name (a variable the function got from elsewhere).
NOT_BUMPED = {
    (
        "tester_platform.api.authentication",
        "BearerTokenAuthentication.authenticate",
        "api.ApiToken",
    ): "last-used stamp on every API call; only the tokens page (not cached) shows it",
    (
        "tester_platform.notifications.services",
        "notification_email_send",
        "notifications.Notification",
    ): "email delivery state; only the inbox page (not cached) shows it",
    (
        "tester_platform.notifications.services",
        "notifications_resend_pending",
        "notifications.Notification",
    ): "email delivery state; no cached page shows it",
    (
        "generation.services",
        "job_dispatch",
        "generation.GenerationJob",
    ): "dispatch stamp for the sweep; pages show the status, which stays queued",
    (
        "generation.services",
        "job_hand_back",
        "generation.GenerationJob",
    ): "dispatch stamp for the sweep; pages show the status, which stays queued",
    ("generation.services", "job_claim", "generation.GenerationJob"): "announced: generation.signals.jobs_updated",
    (
        "generation.services",
        "_claim_one",
        "generation.GenerationJob",
    ): "announced: jobs_claim_batch sends generation.signals.jobs_updated for every job it claimed",
    (
        "generation.services",
        "job_report_progress",
        "generation.GenerationJob",
    ): "progress ticks; no cached page shows progress (test_engine_bulk_updates_retire_the_studio_page)",
    (
        "generation.services",
        "jobs_touch",
        "generation.GenerationJob",
    ): "liveness stamp for the stall detector; no page shows it",
    (
        "generation.services",
        "jobs_cancel_queued",
        "generation.GenerationJob",
    ): "announced: generation.signals.jobs_updated",
    ("payments.payouts", "_insert_payouts", "payments.Payout"): "announced: payments.signals.payouts_updated",
    (
        "payments.payouts",
        "_insert_lines",
        "payments.PayoutLine",
    ): "written with its payouts, in the transaction that announces them (or saves them one by one)",
    ("payments.payouts", "payout_run_discard", "payments.Payout"): "announced: payments.signals.payouts_updated",
    (
        "payments.payouts",
        "_send",
        "payments.Payout",
    ): "attempt counter and time; the payout's state changes are saved (post_save) in record_transfer / _fail",
    (
        "devtools.management.commands.seed_scale",
        "*",
        "*",
    ): "seeds an empty database for benchmarks, before anyone has a page",
}

BULK_WRITES = {"update", "bulk_create", "bulk_update"}
QUERYSET_METHODS = {
    "filter",
    "exclude",
    "all",
    "select_for_update",
    "select_related",
    "prefetch_related",
    "order_by",
    "annotate",
    "only",
    "defer",
    "using",
    "distinct",
    "none",
}
ONE_ROW = {"get", "first", "last", "create", "earliest", "latest"}


class _Reader:
    """Which model a call's receiver is, from the source: Model.objects..., a variable
    assigned from one in the same function, a relation of a row (run.payouts)."""

    def __init__(self, module):
        self.module = module

    def kind(self, node, assigns, depth=0):
        """('class' | 'rows' | 'row' | 'module' | None, model or None)"""
        if depth > 8:
            return None, None
        if isinstance(node, ast.Name):
            if node.id in assigns:
                return self.kind(assigns[node.id], assigns, depth + 1)
            value = getattr(self.module, node.id, None)
            if isinstance(value, type) and issubclass(value, models.Model):
                return "class", value
            if value is pagecache:
                return "module", None
            return None, None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            kind, model = self.kind(node.func.value, assigns, depth + 1)
            name = node.func.attr
            if name in QUERYSET_METHODS:
                return "rows", model
            if name in ONE_ROW and kind == "rows":
                return "row", model
            return None, None
        if isinstance(node, ast.Attribute):
            kind, model = self.kind(node.value, assigns, depth + 1)
            if kind == "class" and node.attr in ("objects", "_default_manager"):
                return "rows", model
            if kind == "row" and model is not None:
                try:
                    field = model._meta.get_field(node.attr)
                except Exception:
                    field = next((r for r in model._meta.related_objects if r.get_accessor_name() == node.attr), None)
                if field is not None and field.is_relation:
                    many = field.one_to_many or field.many_to_many
                    return ("rows" if many else "row"), field.related_model
            if node.attr in ("objects", "_default_manager"):
                return "rows", None
            return None, None
        return None, None


def _functions(tree):
    """(qualified name, node) for every function, methods as Class.method."""

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield prefix + child.name, child
                yield from walk(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, prefix + child.name + ".")

    yield from walk(tree, "")


def bulk_write_sites():
    """(module, function, model label or '*') of every bulk write on rows in the product
    and the engines, with the line."""
    sites = []
    for package in ("tester_platform", "generation", "payments", "devtools"):
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            if (
                {"migrations", "localstripe"} & set(path.parts)
                or path.name == "__main__.py"
                or name == pagecache.__name__
            ):
                continue  # schema history; the fake Stripe server's dicts; the helpers themselves
            sites += [(name, *site) for site in _sites_in(path.read_text(), importlib.import_module(name))]
    return sites


def _sites_in(source, module):
    reader, sites = _Reader(module), []
    for function, node in _functions(ast.parse(source)):
        assigns = {}
        for inner in ast.walk(node):
            if isinstance(inner, ast.Assign) and len(inner.targets) == 1 and isinstance(inner.targets[0], ast.Name):
                assigns.setdefault(inner.targets[0].id, inner.value)
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in BULK_WRITES:
                kind, model = reader.kind(call.func.value, assigns)
                if kind == "rows":
                    sites.append((function, model._meta.label if model else "*", call.lineno))
    return sites


def test_the_reader_sees_a_bulk_write_however_it_is_spelled():
    from types import SimpleNamespace

    from tester_platform.programs.models import Enrollment, Program

    module = SimpleNamespace(Enrollment=Enrollment, Program=Program, pagecache=pagecache)
    source = """
def direct():
    Enrollment.objects.filter(status="active").update(status="suspended")

def through_a_variable(ids):
    rows = Enrollment.objects.filter(pk__in=ids)
    rows.update(status="suspended")

def through_a_relation(pk):
    program = Program.objects.select_for_update().get(pk=pk)
    program.enrollments.filter(status="active").update(status="suspended")

def created(objs):
    Enrollment.objects.bulk_create(objs)

def with_the_helper(ids):
    pagecache.queryset_update(Enrollment.objects.filter(pk__in=ids), status="suspended")

def not_rows(initial):
    initial.update(status="x")
    {}.update(a=1)
"""
    found = {(function, label) for function, label, _ in _sites_in(source, module)}
    assert found == {
        ("direct", "programs.Enrollment"),
        ("through_a_variable", "programs.Enrollment"),
        ("through_a_relation", "programs.Enrollment"),
        ("created", "programs.Enrollment"),
    }


def test_the_reader_finds_the_bulk_writes_it_should():
    found = {(m, f, label) for m, f, label, _ in bulk_write_sites()}
    assert (
        "tester_platform.notifications.services",
        "notifications_mark_read",
        "notifications.Notification",
    ) not in found  # it goes through pagecache.queryset_update, which is no queryset
    assert ("payments.payouts", "payout_run_discard", "payments.Payout") in found  # run.payouts.filter(...)
    assert ("tester_platform.access.services", "token_activity_record", "access.TokenActivity") in found
    assert ("generation.services", "job_claim", "generation.GenerationJob") in found


def test_every_bulk_write_on_a_page_model_bumps_or_says_why_not():
    unexplained, used = [], set()
    for module, function, label, line in bulk_write_sites():
        if label != "*" and pagecache._declaration(apps.get_model(label)).no_pages:
            continue  # its rows are on no cached page
        key = next((k for k in [(module, function, label), (module, "*", "*")] if k in NOT_BUMPED), None)
        if key is None:
            unexplained.append(f"{module}:{line} {function} writes {label} in bulk without bumping")
        used.add(key)
    assert unexplained == []
    assert set(NOT_BUMPED) - used == set()  # no reason kept for a write that is gone


# --- the bulk-write helpers -------------------------------------------------------------------------


@pytest.fixture
def bumps(monkeypatch):
    """Every set of scopes bumped, in order (the cache is still written)."""
    seen: list[set[str]] = []
    real = pagecache._bump_now

    def record(scopes):
        seen.append(set(scopes))
        real(scopes)

    monkeypatch.setattr(pagecache, "_bump_now", record)
    return seen


def test_queryset_update_bumps_the_people_of_the_rows_it_changes_before_and_after(bumps, artist, other_artist, program):
    from generation.models import GenerationJob
    from tests.factories import make_output

    job = make_output(artist, program)
    bumps.clear()
    assert pagecache.queryset_update(GenerationJob.objects.filter(pk=job.pk), prompt="a kite") == 1
    assert bumps == [{f"user:{artist.pk}"}]
    bumps.clear()
    assert pagecache.queryset_update(GenerationJob.objects.filter(pk=job.pk), artist=other_artist) == 1
    assert bumps == [{f"user:{artist.pk}", f"user:{other_artist.pk}"}]  # it left one person's pages for another's
    bumps.clear()
    assert pagecache.queryset_update(GenerationJob.objects.filter(pk=-1), prompt="nothing") == 0
    assert bumps == []


def test_bulk_create_and_bulk_update_bump_the_rows_people_and_shared_scopes(bumps, artist, other_artist, program):
    from tester_platform.notifications.models import Notification
    from tester_platform.sharing.models import ShareEvent
    from tester_platform.sharing.services import share_request_create
    from tests.factories import make_output

    request = share_request_create(
        artist=artist, generation_id=make_output(artist, program).pk, caption="kite", destination="portfolio"
    )
    bumps.clear()
    event = ShareEvent(share_request=request, action="commented", created_at=timezone.now())
    pagecache.bulk_create(ShareEvent, [event])
    assert bumps == [{f"user:{artist.pk}", pagecache.SHARING}]  # through its request, and the moderation queue

    rows = pagecache.bulk_create(
        Notification, [Notification(user=u, kind="announcement", title="hi") for u in (artist, other_artist)]
    )
    assert bumps[-1] == {f"user:{artist.pk}", f"user:{other_artist.pk}"}
    rows[0].title = "hello"
    bumps.clear()
    assert pagecache.bulk_update(Notification, rows[:1], ["title"]) == 1
    assert bumps == [{f"user:{artist.pk}"}]
    rows[0].user = other_artist
    bumps.clear()
    pagecache.bulk_update(Notification, rows[:1], ["user"])
    assert bumps == [{f"user:{artist.pk}", f"user:{other_artist.pk}"}]


def test_a_queryset_delete_retires_pages_through_the_delete_listener(client, artist, program):
    """QuerySet.delete() sends post_delete per row once the model has a listener, so it
    needs no helper."""
    from tester_platform.programs.models import Enrollment

    client.force_login(artist)
    client.get("/")
    assert client.get("/").get("X-Page-Cache") == "hit"
    Enrollment.objects.filter(artist=artist).delete()
    response = client.get("/")
    assert response.get("X-Page-Cache") == "miss" and b"Main Program" not in response.content.split(b"<main")[-1]


def test_a_link_changes_the_pages_of_its_ends_not_of_everyone_else_linked(bumps, artist, other_artist):
    """artist.groups.add(g) changes the artist's pages; the group's other members only when
    the group itself changes (renamed, cleared, deleted)."""
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="page-cache-rules")
    group.user_set.add(other_artist)
    bumps.clear()
    artist.groups.add(group)
    assert bumps == [{f"user:{artist.pk}"}]
    bumps.clear()
    group.name = "renamed"
    group.save()
    assert bumps == [{f"user:{artist.pk}", f"user:{other_artist.pk}"}]
    bumps.clear()
    group.user_set.clear()
    assert set().union(*bumps) == {f"user:{artist.pk}", f"user:{other_artist.pk}"}


# --- after the commit, with the public API ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_transaction_bumps_at_once_and_once_per_scope_after_the_commit(bumps, artist, program):
    me, config = f"user:{artist.pk}", pagecache.PROGRAMS
    bumps.clear()
    with transaction.atomic():
        artist.save()
        artist.save()
        program.save()
        assert bumps == [{me}, {me}, {config}]  # at once, for readers of this transaction
    assert bumps[3:] == [{me}, {config}]  # after the commit: one cache write per scope, not per write

    bumps.clear()
    with transaction.atomic():
        artist.save()
    assert bumps == [{me}, {me}]  # a later transaction bumps again: nothing skipped for an earlier commit

    bumps.clear()
    artist.save()
    assert bumps == [{me}]  # autocommit: the write is committed already; one bump


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_write_bumps_nothing_after(bumps, artist, other_artist, program):
    me, other = f"user:{artist.pk}", f"user:{other_artist.pk}"
    bumps.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        artist.save()
        raise RuntimeError("rolled back")
    assert bumps == [{me}]  # the bump at once only

    bumps.clear()
    with transaction.atomic():
        program.save()
        with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint rolled back
            other_artist.save()
            raise RuntimeError("rolled back")
    assert bumps == [{pagecache.PROGRAMS}, {other}, {pagecache.PROGRAMS}]


def test_the_page_cache_uses_no_private_transaction_api():
    tree = ast.parse(Path(pagecache.__file__).read_text())
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not names & {"run_on_commit", "in_atomic_block", "savepoint_ids", "atomic_blocks"}
