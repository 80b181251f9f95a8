"""The page cache (tester_platform/pagecache.py): a second visit is served from the cache,
and any write to what a page shows retires it at once, whichever path wrote it: a model
save, an engine's bulk update, another process (a real worker), a role change."""

import re

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from generation.models import GenerationJob
from generation.services import job_claim, job_report_progress, jobs_cancel_queued
from payments.ledger import ledger_post
from payments.models import Payout
from payments.signals import payouts_updated
from tester_platform.pagecache import scopes_for_instance
from tests.factories import make_output
from tests.generation.conftest import gpu_worker, tiny_model_dir  # noqa: F401


def visit(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    return response.get("X-Page-Cache"), response.content.decode()


def warmed(client, path):
    """Two visits: the first renders and stores, the second is a hit."""
    assert visit(client, path)[0] == "miss"
    state, body = visit(client, path)
    assert state == "hit"
    return body


@pytest.fixture
def artist_client(client, artist):
    client.force_login(artist)
    return client


def test_a_cached_page_is_only_served_to_the_session_that_rendered_it(artist_client, artist):
    first = warmed(artist_client, "/")
    second_session = Client()
    second_session.force_login(artist)
    state, body = visit(second_session, "/")
    assert state == "miss"  # same person, other session: its own render (own CSRF token)
    assert "Main Program" in first and "Main Program" in body


@pytest.mark.parametrize("path", ["/", "/studio/", "/labour/earnings/"])
def test_program_configuration_changes_reach_every_artist_page(artist_client, program, path):
    warmed(artist_client, path)
    program.name = "Renamed Program"
    program.save()
    state, body = visit(artist_client, path)
    assert state == "miss"
    if path != "/labour/earnings/":  # earnings names programs only on lines, and there are none yet
        assert "Renamed Program" in body


def test_a_ledger_entry_shows_on_the_next_visit(artist_client, artist, program):
    before = warmed(artist_client, "/labour/earnings/")
    ledger_post(
        artist=artist,
        program_id=program.pk,
        kind="adjustment",
        amount_minor=123_456,
        currency="USD",
        source=("test.page_cache", 1),
        source_label="adjustment",
    )
    state, body = visit(artist_client, "/labour/earnings/")
    assert state == "miss" and body != before and "1,234.56" in body


def test_engine_bulk_updates_retire_the_studio_page(artist_client, artist, program):
    job = make_output(artist, program)
    GenerationJob.objects.filter(pk=job.pk).update(status="queued", progress=0)
    warmed(artist_client, "/studio/")

    assert job_claim(job_id=job.pk, worker=None) is not None  # queued -> running: a QuerySet.update
    state, body = visit(artist_client, "/studio/")
    assert state == "miss" and "status-running" in body
    job_report_progress(job_id=job.pk, attempt=1, progress=40)  # the page shows no progress: still cached
    assert visit(artist_client, "/studio/")[0] == "hit"

    GenerationJob.objects.filter(pk=job.pk).update(status="queued")  # set-up only, cached page unchanged
    cancelled = jobs_cancel_queued(program_id=program.pk)
    assert cancelled == [job.pk]
    state, body = visit(artist_client, "/studio/")
    assert state == "miss" and "status-cancelled" in body


def test_payout_bulk_writes_are_announced_by_the_payments_engine(artist_client, artist):
    warmed(artist_client, "/labour/earnings/")
    payouts_updated.send(sender=Payout, artist_ids={artist.pk})
    assert visit(artist_client, "/labour/earnings/")[0] == "miss"


def test_someone_elses_writes_leave_my_page_cached(artist_client, other_artist, program):
    warmed(artist_client, "/studio/")
    make_output(other_artist, program)
    assert visit(artist_client, "/studio/")[0] == "hit"


def test_a_role_change_retires_the_page(artist_client, artist):
    warmed(artist_client, "/")
    artist.groups.add(Group.objects.create(name="page-cache-test"))
    assert visit(artist_client, "/")[0] == "miss"


def test_the_moderation_queue_follows_share_requests_and_shows_flash_messages(client, moderator, artist, program):
    from tester_platform.sharing.services import share_request_create

    client.force_login(moderator)
    warmed(client, "/dashboard/sharing/")
    job = make_output(artist, program)
    request = share_request_create(artist=artist, generation_id=job.pk, caption="kite at dusk", destination="portfolio")
    state, body = visit(client, "/dashboard/sharing/")
    assert state == "miss" and "kite at dusk" in body
    assert visit(client, "/dashboard/sharing/")[0] == "hit"

    decided = client.post(f"/dashboard/sharing/{request.pk}/", {"decision": "approve", "note": ""}, follow=True)
    assert decided.status_code == 200
    assert decided.redirect_chain[-1][0].endswith("/dashboard/sharing/")
    assert decided.get("X-Page-Cache") is None  # a waiting flash message is never cached nor served stale
    assert "decision recorded" in decided.content.decode()
    state, body = visit(client, "/dashboard/sharing/")
    assert state == "miss" and "decision recorded" not in body


def test_posts_are_never_cached(artist_client):
    warmed(artist_client, "/studio/")
    response = artist_client.post("/studio/", {"prompt": ""})
    assert response.status_code == 400 and response.get("X-Page-Cache") is None


def test_the_cache_can_be_turned_off(artist_client, settings):
    settings.PAGE_CACHE_SECONDS = 0
    for _ in range(2):
        assert visit(artist_client, "/")[0] is None


def test_scopes_each_write_touches(artist, program):
    job = make_output(artist, program)
    assert scopes_for_instance(job) == {f"user:{artist.pk}"}
    assert scopes_for_instance(program) == {"programs"}
    assert scopes_for_instance(artist) == {f"user:{artist.pk}"}
    from tester_platform.access.models import TokenActivity

    assert scopes_for_instance(TokenActivity()) == set()  # every API call writes one: not a page change


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_job_finished_by_a_worker_process_shows_on_the_next_visit(gpu_worker, client):
    from tests.conftest import api_as
    from tests.factories import ConsentDocumentFactory, ProgramFactory, enroll, make_artist, sign
    from tests.studio.conftest import wait_for_status

    program = ProgramFactory(slug="cache-e2e")
    ConsentDocumentFactory(program=program)
    artist = make_artist(email="cache-e2e@example.test")
    enroll(artist, program)
    sign(artist, program)
    created = api_as(artist).post(
        "/api/v1/generations/",
        {
            "program": program.pk,
            "mode": "text_to_video",
            "prompt": "a lantern",
            "duration_seconds": 1,
            "aspect_ratio": "16:9",
            "resolution": "preview",
            "seed": 7,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    client.force_login(artist)
    state, before = visit(client, "/studio/")
    assert state == "miss" and "status-succeeded" not in before

    job = wait_for_status(GenerationJob.objects.get(pk=created.json()["id"]), {"succeeded", "failed"})
    assert job.status == "succeeded"
    state, after = visit(client, "/studio/")  # the worker process bumped the version in the shared cache
    assert state == "miss" and "status-succeeded" in after


# --- a hit runs the login / role check first: a change to access takes effect at once ----------


def test_revoking_the_moderator_role_ends_access_at_once(client, moderator):
    client.force_login(moderator)
    warmed(client, "/dashboard/sharing/")
    moderator.groups.clear()
    assert client.get("/dashboard/sharing/").status_code == 403


def test_removing_a_moderator_from_the_program_takes_its_requests_off_the_page(client, moderator, artist, program):
    from tester_platform.programs.models import ProgramStaff
    from tester_platform.sharing.services import share_request_create

    share_request_create(
        artist=artist, generation_id=make_output(artist, program).pk, caption="kite at dusk", destination="portfolio"
    )
    client.force_login(moderator)
    assert "kite at dusk" in warmed(client, "/dashboard/sharing/")
    ProgramStaff.objects.filter(user=moderator, program=program).delete()
    response = client.get("/dashboard/sharing/")
    assert response.get("X-Page-Cache") != "hit" and b"kite at dusk" not in response.content


@pytest.mark.parametrize("change", ["deactivate", "password"])
def test_a_deactivated_account_or_changed_password_is_signed_out_at_once(artist_client, artist, change):
    warmed(artist_client, "/")
    if change == "deactivate":
        artist.is_active = False
    else:
        artist.set_password("a-new-password-elsewhere")
    artist.save()
    response = artist_client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_signed_out_session_cookie_replayed_gets_no_cached_page(artist_client):
    warmed(artist_client, "/")
    old_session = artist_client.cookies["sessionid"].value
    artist_client.post("/accounts/logout/")
    artist_client.cookies["sessionid"] = old_session
    response = artist_client.get("/")
    assert response.status_code == 302 and response.get("X-Page-Cache") is None


@pytest.mark.parametrize("path", ["/", "/studio/", "/labour/earnings/", "/dashboard/sharing/"])
def test_a_hit_runs_only_the_access_check(client, artist, moderator, path):
    """A hit loads the signed-in user (and a staff page their roles) for the page's access
    check, and nothing else: the session comes from the cache (cached_db), the page too."""
    client.force_login(moderator if path.startswith("/dashboard/") else artist)
    warmed(client, path)
    with CaptureQueriesContext(connection) as queries:
        assert visit(client, path)[0] == "hit"
    tables = [set(re.findall(r'(?:FROM|JOIN) "(\w+)"', q["sql"])) for q in queries.captured_queries]
    staff_page = path.startswith("/dashboard/")
    expected = [{"accounts_user"}] + ([{"auth_group", "accounts_user_groups"}] if staff_page else [])
    assert tables == expected


def test_revoking_a_role_from_the_group_side_ends_access_at_once(client, moderator):
    client.force_login(moderator)
    warmed(client, "/dashboard/sharing/")
    for group in list(moderator.groups.all()):
        group.user_set.remove(moderator)
    assert client.get("/dashboard/sharing/").status_code == 403

    moderator.groups.add(Group.objects.get(name="moderator"))
    warmed(client, "/dashboard/sharing/")
    Group.objects.get(name="moderator").user_set.clear()
    assert client.get("/dashboard/sharing/").status_code == 403

    moderator.groups.add(Group.objects.get(name="moderator"))
    warmed(client, "/dashboard/sharing/")
    Group.objects.get(name="moderator").delete()
    assert client.get("/dashboard/sharing/").status_code == 403


def test_only_the_query_parameters_a_page_reads_are_cached(artist_client):
    warmed(artist_client, "/studio/?status=succeeded&page=1")
    for junk in ("/studio/?x=1", "/studio/?x=2", "/?utm=mail"):
        assert visit(artist_client, junk)[0] is None  # rendered, never stored


def test_a_cache_outage_degrades_to_rendering_and_never_fails_a_write(artist_client, artist, program, monkeypatch):
    from django.core.cache import caches

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    warmed(artist_client, "/labour/earnings/")
    for method in ("get_many", "set_many", "set", "add"):
        monkeypatch.setattr(caches["pages"], method, down)
    entry = ledger_post(
        artist=artist,
        program_id=program.pk,
        kind="adjustment",
        amount_minor=500,
        currency="USD",
        source=("test.page_cache", 2),
        source_label="adjustment",
    )
    assert entry.pk is not None
    state, body = visit(artist_client, "/labour/earnings/")
    assert state is None and "5.00" in body
