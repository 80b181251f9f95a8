"""The audit trail reads as sentences: every action the code writes has one (enumerated
from the source, so a new action without a sentence fails here), and the pages show them
while the export keeps the codes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from payments.models import Payout
from tester_platform.access.models import AccessFlag
from tester_platform.audit.models import AuditEvent
from tester_platform.labour.models import FeedbackReport, TimeEntry
from tester_platform.programs.audit_sentences import SENTENCES, describe_events
from tester_platform.programs.models import Application
from tester_platform.sharing.services import share_request_create, share_request_decide
from tests.factories import make_output

ROOT = Path(__file__).resolve().parents[2]

# Functions that write audit events for a family, and the prefix they put before `action`.
WRAPPERS = {("tester_platform/sharing/services.py", "_audit"): "share."}


def _decided(choices, *undecided):
    return [value for value in choices.values if value not in undecided]


# Actions built at run time: (file, the `action=` expression) -> every value it can take.
DYNAMIC = {
    ("tester_platform/access/services.py", "f'access.flag_{flag.status}'"): [
        f"access.flag_{v}" for v in _decided(AccessFlag.Status, "open")
    ],
    ("tester_platform/finance/services.py", "f'payout.{payout.status}'"): [f"payout.{v}" for v in Payout.Status.values],
    ("tester_platform/labour/services.py", "f'feedback.{report.status}'"): [
        f"feedback.{v}" for v in _decided(FeedbackReport.Status, "submitted")
    ],
    ("tester_platform/labour/services.py", "f'time.{entry.status}'"): [
        f"time.{v}" for v in _decided(TimeEntry.Status, "submitted")
    ],
    ("tester_platform/programs/services.py", "f'application.{application.status}'"): [
        f"application.{v}" for v in _decided(Application.Status, "submitted")
    ],
    # share_request_decide: {"approve": "approved", "reject": "rejected", "request_changes": ...}
    ("tester_platform/sharing/services.py", "action"): ["share.approved", "share.rejected", "share.changes_requested"],
    ("tester_platform/sharing/services.py", "f'appeal_{share_request.appeal_outcome}'"): [
        "share.appeal_upheld",
        "share.appeal_overturned",
    ],
    # the wrapper itself: its callers are enumerated above
    ("tester_platform/sharing/services.py", "f'share.{action}'"): [],
}


def _written_actions() -> tuple[set[str], list[str]]:
    actions, unknown = set(), []
    for path in sorted((ROOT / "tester_platform").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            prefix = "" if name == "audit_record" else WRAPPERS.get((rel, name))
            if prefix is None:
                continue
            for keyword in node.keywords:
                if keyword.arg != "action":
                    continue
                value = keyword.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    actions.add(prefix + value.value)
                elif (
                    isinstance(value, ast.IfExp)
                    and isinstance(value.body, ast.Constant)
                    and isinstance(value.orelse, ast.Constant)
                ):
                    actions.update({prefix + value.body.value, prefix + value.orelse.value})
                elif (rel, ast.unparse(value)) in DYNAMIC:
                    actions.update(DYNAMIC[(rel, ast.unparse(value))])
                else:
                    unknown.append(f"{rel}:{node.lineno} action={ast.unparse(value)}")
    return actions, unknown


def test_every_action_the_code_writes_has_a_sentence():
    actions, unknown = _written_actions()
    assert not unknown, f"actions built at run time: list their values in DYNAMIC: {unknown}"
    assert len(actions) > 60  # the scan found the code
    missing = sorted(actions - set(SENTENCES))
    assert not missing, f"audit actions without a sentence (tester_platform/programs/audit_sentences.py): {missing}"


@pytest.mark.parametrize("action", sorted(SENTENCES))
def test_every_sentence_reads_even_without_data(db, artist, action):
    event = AuditEvent(action=action, actor=None, subject=artist, target_id="7", data={})
    [described] = describe_events([event], viewer=artist)
    assert described.sentence and described.sentence[0].isupper() and "{" not in described.sentence
    assert described.sentence.endswith((".", "”"))


def test_sentences_say_who_did_what_to_whom(artist, program, moderator):
    job = make_output(artist, program)
    share = share_request_create(artist=artist, generation_id=job.pk, caption="Kite", destination="press")
    share_request_decide(
        share_request=share,
        moderator=moderator,
        decision="reject",
        reason_code="third_party_rights",
        note="The logo is a brand's.",
    )
    events = describe_events(
        AuditEvent.objects.filter(subject=artist, action__startswith="share.").order_by("id"), viewer=artist
    )
    sentences = [e.sentence for e in events]
    assert (
        sentences[0] == f"You requested to share generation #{job.pk} (press): share request #{share.pk} of "
        f"generation #{job.pk}."
    )
    name = moderator.display_name
    assert sentences[1] == (
        f"Moderator {name} rejected share request #{share.pk} of generation #{job.pk}. "
        "Reason: Third-party rights. Note: The logo is a brand's."
    )
    # The moderator reads the same event about someone else.
    [as_staff] = describe_events([events[1]], viewer=moderator)
    assert as_staff.sentence.startswith(f"You rejected share request #{share.pk}")


def test_the_about_me_page_shows_sentences_and_the_export_keeps_codes(client, artist, program, moderator):
    job = make_output(artist, program)
    share = share_request_create(artist=artist, generation_id=job.pk, caption="Kite", destination="press")
    share_request_decide(share_request=share, moderator=moderator, decision="approve", note="Lovely")
    client.force_login(artist)
    page = client.get("/me/activity/").content.decode()
    assert f"You requested to share generation #{job.pk}" in page
    assert f"Moderator {moderator.display_name} approved share request #{share.pk}" in page and "Note: Lovely" in page
    assert ">share.requested<" not in page and 'data-action="share.requested"' in page
    api = client.get("/api/v1/audit/").json()
    first = api["results"][0]
    assert first["action"] == "share.approved" and first["sentence"].startswith("Moderator")
    import io
    import json
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(client.get("/me/export.zip").content))
    assert "share.requested" in {e["action"] for e in json.loads(archive.read("audit_events.json"))}
