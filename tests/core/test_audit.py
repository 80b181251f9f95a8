import hashlib
import hmac
import json
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tester_platform.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from tester_platform.audit.services import audit_chain_problems, audit_checkpoint_write, audit_record
from tester_platform.audit.tasks import checkpoint_audit_chain


@pytest.fixture
def events(artist, program):
    audit_record(action="test.one", actor=artist, subject=artist, program=program, data={"n": 1})
    audit_record(action="test.two", actor=artist, subject=artist, data={"when": "now", "nested": {"a": [1, 2]}})
    return AuditEvent.objects.order_by("id")


def test_each_event_stores_the_hash_of_the_one_before(events):
    hashes = list(events.values_list("prev_hash", "hash"))
    for (_, previous), (prev_hash, _) in pairwise(hashes):
        assert prev_hash == previous


def test_verify_passes_on_a_clean_chain(events, capsys):
    call_command("verify_audit_chain")
    assert "intact" in capsys.readouterr().out


def test_verify_fails_after_one_row_is_changed_with_sql(events):
    victim = events.first()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["consent.forged", victim.pk])
    with pytest.raises(CommandError, match="broken"):
        call_command("verify_audit_chain")
    assert any(str(victim.pk) in p for p in audit_chain_problems())


def test_verify_fails_when_an_event_is_deleted_with_sql(events):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events.last().pk])
    with pytest.raises(CommandError):
        call_command("verify_audit_chain")


# --- keyed links, legacy links, rotation -------------------------------------------------------

OTHER_KEY = "Hq2" * 12


@pytest.fixture(autouse=True)
def checkpoint_file(settings, tmp_path):
    """Each test its own checkpoint file (the default one is shared by the test session)."""
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit-checkpoints.jsonl"
    return settings.AUDIT_CHECKPOINT_FILE


def _plain_sha256(event):
    return hashlib.sha256(event._canonical(keyed=bool(event.key_id))).hexdigest()


def _rewrite_chain(*, link, key_id=None, edit=None):
    """What a database writer can do: change one event, then re-link every event after it and
    the head, with `link(event) -> hash` (the attacker's best guess at the algorithm)."""
    previous = GENESIS_HASH
    for event in AuditEvent.objects.order_by("id"):
        if edit is not None and event.pk == edit[0]:
            event.action = edit[1]
        if key_id is not None:
            event.key_id = key_id
        event.prev_hash = previous
        event.hash = link(event)
        AuditEvent.objects.filter(pk=event.pk).update(
            action=event.action, key_id=event.key_id, prev_hash=event.prev_hash, hash=event.hash
        )
        previous = event.hash
    AuditChainHead.objects.filter(pk=1).update(last_hash=previous, last_event_id=event.pk)


def test_each_link_is_an_hmac_under_the_configured_key(events, settings):
    event = events.first()
    secret = settings.AUDIT_CHAIN_KEYS[settings.AUDIT_CHAIN_KEY_ID]
    assert event.key_id == settings.AUDIT_CHAIN_KEY_ID
    assert event.hash == hmac.new(secret.encode(), event._canonical(keyed=True), hashlib.sha256).hexdigest()
    assert event.hash != _plain_sha256(event)


def test_an_event_edited_and_relinked_with_plain_sha256_fails_verification(events):
    victim = events.first()
    _rewrite_chain(link=_plain_sha256, edit=(victim.pk, "consent.forged"))
    problems = audit_chain_problems()
    assert f"event {victim.pk}: contents do not match its hash" in problems
    with pytest.raises(CommandError, match="broken"):
        call_command("verify_audit_chain")


def test_a_chain_downgraded_to_legacy_sha256_links_fails_verification(events):
    """Relabelling every event as legacy (key_id "") and re-linking with plain SHA-256 makes
    each link self-consistent; nothing pins them, and that is reported."""
    _rewrite_chain(link=_plain_sha256, key_id="", edit=(events.first().pk, "consent.forged"))
    problems = audit_chain_problems()
    assert any("legacy (unkeyed) links that neither a keyed event nor a checkpoint pins" in p for p in problems)


def test_an_event_relinked_with_hmac_under_a_wrong_key_fails_verification(events, settings):
    wrong = {settings.AUDIT_CHAIN_KEY_ID: OTHER_KEY}
    victim = events.last()
    _rewrite_chain(link=lambda e: e.compute_hash(wrong), edit=(victim.pk, "payout.forged"))
    assert f"event {victim.pk}: contents do not match its hash" in audit_chain_problems()


def test_a_chain_rewritten_with_the_right_key_after_a_checkpoint_is_caught_by_the_checkpoint(
    events, checkpoint_file, tmp_path
):
    written = audit_checkpoint_write()
    assert written["event_id"] == events.last().pk
    victim = events.first()
    _rewrite_chain(link=lambda e: e.compute_hash(), edit=(victim.pk, "consent.forged"))
    # Without the checkpoint a rewrite with the key is consistent: that is what the
    # checkpoint is for.
    assert audit_chain_problems(checkpoint_file=tmp_path / "no-checkpoints.jsonl") == []
    problems = audit_chain_problems()
    assert any(f"event {written['event_id']} has a different hash than when it was checkpointed" in p for p in problems)
    with pytest.raises(CommandError, match="broken"):
        call_command("verify_audit_chain")


def test_a_checkpointed_event_that_was_deleted_is_reported_missing(events):
    written = audit_checkpoint_write()
    AuditEvent.objects.filter(pk=written["event_id"]).delete()
    first = events.first()
    AuditChainHead.objects.filter(pk=1).update(last_hash=first.hash, last_event_id=first.pk)
    assert any(f"event {written['event_id']} is missing" in p for p in audit_chain_problems())


def test_an_edited_checkpoint_line_is_reported(events, checkpoint_file):
    audit_checkpoint_write()
    line = json.loads(checkpoint_file.read_text())
    line["event_id"] = events.first().pk
    checkpoint_file.write_text(json.dumps(line) + "\n")
    assert any("checkpoint signature does not verify" in p for p in audit_chain_problems())


def test_the_checkpoint_task_appends_one_signed_line_per_new_head(events, checkpoint_file, capsys):
    assert checkpoint_audit_chain() == events.last().pk
    assert checkpoint_audit_chain() is None  # the head has not moved: nothing new to pin
    newest = audit_record(action="test.three")
    assert checkpoint_audit_chain() == newest.pk
    lines = [json.loads(line) for line in checkpoint_file.read_text().splitlines()]
    assert [line["event_id"] for line in lines] == [events.get(action="test.two").pk, newest.pk]
    assert {"event_id", "hash", "at", "written_at", "key_id", "sig"} <= set(lines[-1])
    call_command("verify_audit_chain")
    assert "matches 2 checkpoint(s)" in capsys.readouterr().out


def test_a_broken_chain_is_not_pinned_by_a_checkpoint(events, checkpoint_file, caplog):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["consent.forged", events.first().pk])
    assert audit_checkpoint_write() is None
    assert not checkpoint_file.exists()
    assert "checkpoint refused" in caplog.text


def test_the_checkpoint_runs_on_the_beat_schedule(settings):
    from tester_platform.celery import app

    entries = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "tester_platform.audit.tasks.checkpoint_audit_chain"
    ]
    assert entries and entries[0]["schedule"] <= 3600
    assert entries[0]["task"] == checkpoint_audit_chain.name and checkpoint_audit_chain.name in app.tasks


def test_events_under_a_rotated_out_key_still_verify_while_it_is_configured(artist, settings):
    dev = dict(settings.AUDIT_CHAIN_KEYS)  # the fixtures' events (sign-up, consent) are under it
    settings.AUDIT_CHAIN_KEY_ID, settings.AUDIT_CHAIN_KEYS = "k0", {**dev, "k0": OTHER_KEY}
    old = audit_record(action="test.before_rotation", subject=artist)
    settings.AUDIT_CHAIN_KEY_ID, settings.AUDIT_CHAIN_KEYS = "k1", {**dev, "k1": "Rt6" * 12, "k0": OTHER_KEY}
    new = audit_record(action="test.after_rotation", subject=artist)
    assert (old.key_id, new.key_id) == ("k0", "k1") and new.prev_hash == old.hash
    assert audit_chain_problems() == []
    settings.AUDIT_CHAIN_KEYS = {**dev, "k1": "Rt6" * 12}  # k0 dropped from AUDIT_CHAIN_OLD_KEYS
    assert audit_chain_problems() == [
        f"event {old.pk}: linked with key id 'k0', which is not configured (AUDIT_CHAIN_KEY / AUDIT_CHAIN_OLD_KEYS)"
    ]


def test_legacy_events_verify_and_the_first_keyed_event_pins_them(events, capsys):
    """Rows from before the chain was keyed keep key_id "" and their plain SHA-256 links."""
    _rewrite_chain(link=_plain_sha256, key_id="")  # what the migration leaves behind
    legacy = AuditEvent.objects.count()
    keyed = audit_record(action="test.first_keyed")
    assert keyed.key_id and audit_chain_problems() == []
    call_command("verify_audit_chain")
    assert f"{legacy + 1} events, {legacy} of them legacy" in capsys.readouterr().out
    # Edit a legacy event and re-link every legacy event after it: the keyed event's HMAC
    # covers the old last legacy hash, and cannot be re-linked without the key.
    previous = GENESIS_HASH
    for event in AuditEvent.objects.filter(key_id="").order_by("id"):
        event.action = "consent.forged" if event.pk == events.first().pk else event.action
        event.prev_hash, event.hash = previous, None
        event.hash = previous = _plain_sha256(event)
        AuditEvent.objects.filter(pk=event.pk).update(action=event.action, prev_hash=event.prev_hash, hash=event.hash)
    assert audit_chain_problems() == [f"event {keyed.pk}: previous hash does not match event before it"]


def test_the_export_carries_the_chain_head(client, events, artist):
    client.force_login(artist)
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(client.get("/me/export.zip").content))
    manifest = json.loads(archive.read("manifest.json"))
    head = AuditChainHead.objects.get(pk=1)
    newest = AuditEvent.objects.get(pk=head.last_event_id)
    assert manifest["audit_chain_head"] == {
        "event_id": head.last_event_id,
        "hash": head.last_hash,
        "at": newest.created_at.isoformat(),
        "key_id": newest.key_id,
    }
    assert all(e["key_id"] == newest.key_id for e in json.loads(archive.read("audit_events.json")))
