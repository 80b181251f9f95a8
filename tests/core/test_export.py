"""The complete export: every model that references the person is exported (walked from
Django's model graph, so a new one fails here until it is), and the ZIP round-trips:
each kind's JSON loads, its CSV has the same records, the manifest carries the audit
chain head, and nothing of another person is inside."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from django.apps import apps
from django.conf import settings as conf
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from generation.models import UsageRecord
from tester_platform.api.services import token_create
from tester_platform.audit.selectors import audit_chain_head
from tester_platform.labour.services import feedback_review, feedback_submit, time_entry_review, time_entry_submit
from tester_platform.notifications.services import notify
from tester_platform.portal.export import ACTING, COVERED_ELSEWHERE, KINDS, export_zip
from tester_platform.sharing.services import share_request_create, share_request_decide
from tests.factories import make_output
from tests.finance.helpers import matrix_payout
from tests.labour.helpers import make_rate_card


def _user_model():
    return apps.get_model(conf.AUTH_USER_MODEL)


def _owner_fields(kind) -> set[str]:
    return {lookup.split("__")[0] for lookup in kind.owner}


def test_every_model_that_references_the_user_is_exported():
    user_model = _user_model()
    kinds = {kind.model: kind for kind in KINDS}
    missing, owned = [], set()
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label_lower
        for field in model._meta.concrete_fields:
            if not field.is_relation or field.related_model is not user_model:
                continue
            kind = kinds.get(label)
            if (
                kind is not None
                and field.name in _owner_fields(kind)
                and "__" not in ",".join(lookup for lookup in kind.owner if lookup.split("__")[0] == field.name)
            ):
                owned.add(model)
            elif field.name in ACTING.get(label, ()) or label in COVERED_ELSEWHERE:
                continue
            else:
                missing.append(f"{label}.{field.name}")
    # Rows that reach the person through one of their own rows (a payout's lines, a share
    # request's history, a token's activity, a report's attachments).
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label_lower
        for field in model._meta.concrete_fields:
            if (
                field.is_relation
                and field.related_model in owned
                and field.related_model is not model
                and label not in kinds
                and label not in COVERED_ELSEWHERE
            ):
                missing.append(f"{label}.{field.name} (through {field.related_model._meta.label_lower})")
    assert not missing, (
        "models that reference the user but are not in the export "
        f"(tester_platform/portal/export.py): {sorted(set(missing))}"
    )
    assert len(owned) >= 20


def test_every_declared_kind_is_a_model_of_this_project():
    installed = 0
    for kind in KINDS:
        try:
            model = apps.get_model(kind.model)
        except LookupError:  # a model another part of the work has not brought in yet
            continue
        installed += 1
        names = {f.name for f in model._meta.get_fields()}
        for lookup in kind.owner:
            assert lookup.split("__")[0] in names, (kind.name, lookup)
    assert installed >= len(KINDS) - 2


@pytest.fixture
def busy_artist(artist, other_artist, program, moderator, django_capture_on_commit_callbacks):
    """An artist with a record of nearly every kind, and another artist with their own."""
    make_rate_card(program)
    for person in (artist, other_artist):
        job = make_output(person, program)
        UsageRecord.objects.create(
            job=job,
            artist=person,
            program=program,
            device_name="cpu",
            model_profile="wan-tiny",
            compute_seconds=1.5,
            wall_seconds=2.0,
            queue_seconds=0.1,
            frames=9,
            width=64,
            height=48,
            steps=4,
            peak_memory_bytes=1024,
        )
        share = share_request_create(
            artist=person, generation_id=job.pk, caption=f"Kite of {person.email}", destination="press"
        )
        share_request_decide(share_request=share, moderator=moderator, decision="approve", note='Fine, "quoted"')
        report = feedback_submit(
            artist=person,
            program=program,
            category="bug",
            severity="high",
            title=f"Hands melt, {person.email}",
            body="Line one,\nline two; with, commas",
        )
        feedback_review(report=report, reviewer=moderator, decision="accept")
        entry = time_entry_submit(
            artist=person,
            program=program,
            date=timezone.localdate(),
            minutes=45,
            description="Prompt sweep",
            generation_ids=[job.pk],
        )
        time_entry_review(entry=entry, reviewer=moderator, decision="accept")
        token_create(user=person, name="laptop")
        notify(user=person, kind="announcement", title="Hello", body="Body")
    return artist


def _stored(kind, row: dict) -> dict:
    """What the database holds for an exported row, read here field by field: every concrete
    field the kind does not leave out, many-to-many fields as sorted ids, and the row's
    extra link columns (not stored) as exported."""
    model = apps.get_model(kind.model)
    obj = model._default_manager.get(pk=row["id"])
    stored = {}
    for field in model._meta.concrete_fields:
        if field.name in kind.exclude or (kind.only and field.name not in kind.only):
            continue
        value = getattr(obj, field.attname)
        if isinstance(value, FieldFile):
            value = value.name or ""
        stored[field.name] = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    for name in kind.m2m:
        stored[name] = sorted(getattr(obj, name).values_list("pk", flat=True))
    links = {key: row[key] for key in row if key not in stored}
    assert set(links) <= (
        {"page_url", "video_url", "thumbnail_url", "video_url_valid_seconds", "url"} if kind.extra else set()
    ), (kind.name, set(links))
    return {**stored, **links}


def _csv_cell(value) -> str:
    """A JSON value as its spreadsheet cell: empty for null, true/false, JSON for lists and
    objects, the text of anything else."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _zip(content: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(content))


def test_the_export_round_trips_through_json_and_csv(client, busy_artist, other_artist, program, settings):
    from types import SimpleNamespace

    settings.SITE_URL = "http://127.0.0.1:8765"
    world = SimpleNamespace(program=program, user=lambda role: busy_artist)
    matrix_payout(world)  # a sent payout with its line
    client.force_login(busy_artist)
    response = client.get("/me/export.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = _zip(response.content)
    names = set(archive.namelist())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["audit_chain_head"] == json.loads(json.dumps(audit_chain_head(), default=str))
    for kind in KINDS:
        if f"{kind.name}.json" not in names:
            assert kind.model == "generation.inputimage", kind.name  # skipped only where not installed
            continue
        rows = json.loads(archive.read(f"{kind.name}.json"))
        assert manifest["files"][f"{kind.name}.json"]["records"] == len(rows)
        for row in rows:
            assert row == _stored(kind, row), kind.name  # every field, as the database holds it
        if kind.table:
            table = list(csv.DictReader(io.StringIO(archive.read(f"{kind.name}.csv").decode())))
            assert len(table) == len(rows), kind.name
            for cells, row in zip(table, rows, strict=True):  # every cell says what the JSON says
                assert cells == {column: _csv_cell(row.get(column)) for column in cells}, kind.name
                assert set(row) <= set(cells), kind.name
    expect_some = (
        "generations",
        "usage",
        "share_requests",
        "share_events",
        "feedback",
        "time_entries",
        "ledger",
        "payouts",
        "payout_lines",
        "consent_records",
        "audit_events",
        "api_tokens",
        "notifications",
        "enrollments",
    )
    for name in expect_some:
        assert json.loads(archive.read(f"{name}.json")), f"{name} is empty"
    generations = json.loads(archive.read("generations.json"))
    assert generations[0]["prompt"] == "a test output" and generations[0]["seed"] == 1
    assert generations[0]["video_url"].startswith("http://127.0.0.1:8765/studio/media/")
    assert generations[0]["page_url"] == f"http://127.0.0.1:8765/studio/generations/{generations[0]['id']}/"
    feedback = list(csv.DictReader(io.StringIO(archive.read("feedback.csv").decode())))
    assert feedback[0]["body"] == "Line one,\nline two; with, commas"
    time_entries = json.loads(archive.read("time_entries.json"))
    assert time_entries[0]["generations"] == [generations[0]["id"]]
    # Codes stay in the export; secrets never leave.
    assert {"share.requested", "feedback.accepted"} <= {
        e["action"] for e in json.loads(archive.read("audit_events.json"))
    }
    everything = b"".join(archive.read(name) for name in names)
    assert b"token_hash" not in everything
    assert other_artist.email.encode() not in everything and b"Kite of bob" not in everything


def test_the_api_gives_the_same_export_to_a_read_token(busy_artist):
    from rest_framework.test import APIClient

    _, raw = token_create(user=busy_artist, name="reader", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.get("/api/v1/me/export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = _zip(response.content)
    assert json.loads(archive.read("profile.json"))["email"] == busy_artist.email
    _, generate_only = token_create(user=busy_artist, name="gen", scopes=["generate"])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {generate_only}")
    refused = client.get("/api/v1/me/export/")
    assert refused.status_code == 403 and refused["Content-Type"].startswith("application/problem+json")
    client.credentials()
    assert client.get("/api/v1/me/export/").status_code == 401


def test_a_staff_member_gets_references_not_other_peoples_content(busy_artist, moderator):
    archive = _zip(export_zip(moderator))
    acting = json.loads(archive.read("acting_as_staff.json"))
    assert {(row["record"], row["as"]) for row in acting} >= {
        ("labour.feedbackreport", "reviewed_by"),
        ("labour.timeentry", "reviewed_by"),
        ("sharing.sharerequest", "decided_by"),
    }
    assert json.loads(archive.read("feedback.json")) == []  # the reports themselves are the artists'
    assert busy_artist.email.encode() not in b"".join(
        archive.read(n) for n in archive.namelist() if n != "audit_events.json" and n != "audit_events.csv"
    )
