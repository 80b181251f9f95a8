import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tester_platform.audit.models import AuditEvent
from tester_platform.audit.services import audit_chain_problems, audit_record


@pytest.fixture
def events(artist, program):
    audit_record(action="test.one", actor=artist, subject=artist, program=program, data={"n": 1})
    audit_record(action="test.two", actor=artist, subject=artist, data={"when": "now", "nested": {"a": [1, 2]}})
    return AuditEvent.objects.order_by("id")


def test_each_event_stores_the_hash_of_the_one_before(events):
    hashes = list(events.values_list("prev_hash", "hash"))
    for (_, previous), (prev_hash, _) in zip(hashes, hashes[1:]):
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
