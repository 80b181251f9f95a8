"""Everything Atelier holds about a person, as one ZIP: a JSON file per kind of record, a CSV
beside it for the tabular ones, and a manifest with the audit chain's head at export time.

What is exported is declared here, kind by kind (KINDS), and which of a person's rows
belong to them is said per kind (`owner`: the lookups that point at them). Every relation
of the data model to the user — direct, or through one of their rows — must be covered by
a kind, by ACTING (rows of other people's objects where the person only acted, as staff:
exported as references), or by COVERED_ELSEWHERE with the reason; tests/core/test_export.py
walks Django's model graph and fails on a new model that is not."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from tester_platform.audit.selectors import audit_chain_head

FORMAT_VERSION = 2


@dataclass(frozen=True)
class Kind:
    name: str  # the file name, and the key in the manifest
    model: str  # "app_label.modelname"
    owner: tuple[str, ...]  # a row is the person's when any of these lookups is them
    about: str  # one line for the manifest
    exclude: tuple[str, ...] = ()  # secrets (token hashes, TOTP keys) never leave
    only: tuple[str, ...] = ()  # when set, just these fields
    m2m: tuple[str, ...] = ()  # many-to-many fields, exported as lists of ids
    table: bool = True  # also written as CSV
    extra: Callable[[Any, Any], dict] | None = None  # more columns per row (links)


def _generation_links(job, user) -> dict:
    from tester_platform.notifications.services import absolute_url
    from tester_platform.studio.media import MEDIA_URL_MAX_AGE, signed_media_url

    video = signed_media_url(job=job, kind="video", user=user)
    thumbnail = signed_media_url(job=job, kind="thumbnail", user=user)
    return {
        "page_url": absolute_url(reverse("studio:detail", args=[job.pk])),
        "video_url": absolute_url(video) if video else "",
        "thumbnail_url": absolute_url(thumbnail) if thumbnail else "",
        "video_url_valid_seconds": MEDIA_URL_MAX_AGE if video else None,
    }


def _attachment_links(attachment, user) -> dict:
    from tester_platform.notifications.services import absolute_url

    return {"url": absolute_url(reverse("labour:attachment", args=[attachment.pk]))}


KINDS: tuple[Kind, ...] = (
    Kind("email_addresses", "account.emailaddress", ("user",), "Your email addresses and whether they are verified."),
    Kind(
        "two_factor_devices",
        "otp_totp.totpdevice",
        ("user",),
        "Your two-factor devices (never their keys).",
        only=("id", "name", "confirmed", "created_at", "last_used_at"),
    ),
    Kind("program_roles", "programs.programstaff", ("user",), "Programs you are staff of, and as what."),
    Kind(
        "invitations",
        "programs.invitation",
        ("accepted_by", "invited_by"),
        "Invitations you accepted, or sent as staff.",
        exclude=("token_hash",),
    ),
    Kind("applications", "programs.application", ("artist",), "Your applications to programs and their outcome."),
    Kind("enrollments", "programs.enrollment", ("artist",), "Your participation in programs (and any suspension)."),
    Kind("consent_records", "consent.consentrecord", ("artist",), "Every consent you signed or withdrew."),
    Kind(
        "generations",
        "generation.generationjob",
        ("artist",),
        "Your generations with their prompts and parameters, provenance, and links to the videos "
        "(video links are signed and expire; the page link needs you signed in).",
        extra=_generation_links,
    ),
    Kind("input_images", "generation.inputimage", ("artist",), "Stills you uploaded to start videos from."),
    Kind("usage", "generation.usagerecord", ("artist",), "Metered compute of each generation."),
    Kind("budget_accounts", "generation.budgetaccount", ("artist",), "Your quota accounts, per program."),
    Kind("share_requests", "sharing.sharerequest", ("artist",), "Your requests to share, and their decisions."),
    Kind(
        "share_events",
        "sharing.shareevent",
        ("share_request__artist", "actor"),
        "The history of each of your share requests, step by step.",
    ),
    Kind(
        "feedback",
        "labour.feedbackreport",
        ("artist",),
        "Your feedback reports and their reviews.",
        m2m=("generations",),
    ),
    Kind(
        "feedback_attachments",
        "labour.feedbackattachment",
        ("report__artist",),
        "Images and clips you attached to reports (links need you signed in).",
        exclude=("file",),
        extra=_attachment_links,
    ),
    Kind(
        "severity_changes",
        "labour.severityrerate",
        ("report__artist",),
        "Severity re-ratings of your reports, with the reason and the bounty change.",
    ),
    Kind("time_entries", "labour.timeentry", ("artist",), "Time you filed and its review.", m2m=("generations",)),
    Kind("pay_floor_assessments", "labour.payfloorassessment", ("artist",), "Weekly pay-floor checks and top-ups."),
    Kind(
        "assignments_taken",
        "labour.assignment",
        ("artist",),
        "Assignments you took on, your submissions and their review.",
        m2m=("generations",),
    ),
    Kind(
        "tasks_offered_to_you",
        "labour.task",
        ("invited",),
        "Tasks published to you by name (program-wide tasks are listed in the program).",
    ),
    Kind("ledger", "payments.ledgerentry", ("artist",), "Every line of your earnings ledger (minor units)."),
    Kind("payouts", "payments.payout", ("artist",), "Your payouts and their state at Stripe."),
    Kind("payout_lines", "payments.payoutline", ("payout__artist",), "What each payout paid, per program."),
    Kind("payout_account", "payments.connectedaccount", ("artist",), "Your Stripe payout account's state."),
    Kind(
        "api_tokens",
        "api.apitoken",
        ("user",),
        "Your API tokens' metadata (never the secrets).",
        exclude=("token_hash",),
    ),
    Kind("token_activity", "access.tokenactivity", ("token__user",), "Per-minute use of your tokens."),
    Kind("access_flags", "access.accessflag", ("artist",), "Access flags raised about you, and their review."),
    Kind(
        "audit_events",
        "audit.auditevent",
        ("subject", "actor"),
        "Every audit event about you or by you, with its code and its link in the chain.",
    ),
    Kind("notifications", "notifications.notification", ("user",), "Your inbox."),
    Kind("email_preferences", "notifications.emailpreference", ("user",), "Which notices you get by email."),
    Kind("announcements_sent", "notifications.announcement", ("created_by",), "Announcements you sent as staff."),
    Kind(
        "payout_runs_handled",
        "payments.payoutrun",
        ("created_by", "approved_by", "discarded_by"),
        "Payout runs you prepared, approved or discarded (finance).",
        only=(
            "id",
            "program",
            "period_end",
            "status",
            "created_at",
            "created_by",
            "approved_by",
            "approved_at",
            "discarded_by",
            "payout_count",
            "total_minor",
            "currency",
        ),
    ),
    Kind("payout_run_attempts", "payments.payoutrunattempt", ("actor",), "Payout run executions you started."),
    Kind(
        "reconciliations",
        "payments.reconciliation",
        ("requested_by",),
        "Reconciliations you ran (finance).",
        only=("id", "created_at", "requested_by", "difference_count", "error"),
    ),
)

# Other people's objects where the person only acted (as staff): exported as references
# (which record, which role), never their content.
ACTING: dict[str, tuple[str, ...]] = {
    "access.accessflag": ("reviewed_by",),
    "admin.logentry": ("user",),
    "generation.generationjob": ("cancelled_by",),
    "labour.feedbackreport": ("reviewed_by", "acted_on_by"),
    "labour.severityrerate": ("rerated_by",),
    "labour.timeentry": ("reviewed_by",),
    "labour.task": ("created_by",),
    "labour.assignment": ("reviewed_by",),
    "payments.ledgerentry": ("created_by",),
    "programs.application": ("decided_by",),
    "sharing.sharerequest": ("decided_by", "appeal_decided_by"),
}

# Relations to the person (or their rows) carried by another part of the export, or not
# exported on purpose; each says where or why.
COVERED_ELSEWHERE: dict[str, str] = {
    "accounts.user": "profile.json",
    "accounts.user_groups": "profile.json: roles",
    "accounts.user_user_permissions": "profile.json: permissions",
    "labour.timeentry_generations": "time_entries: generations",
    "labour.feedbackreport_generations": "feedback: generations",
    "labour.assignment_generations": "assignments_taken: generations",
    "labour.task_invited": "tasks_offered_to_you (who else was invited is not theirs to export)",
    "account.emailconfirmation": "not exported: a one-time secret key to confirm an address, kept for a few days",
    "sessions.session": "not exported: sign-in sessions hold only a session key",
}


def _installed(kind: Kind) -> bool:
    try:
        apps.get_model(kind.model)
    except LookupError:  # a kind of an app that is not installed here
        return False
    return True


def _owner_q(kind: Kind, user) -> Q:
    q = Q()
    for lookup in kind.owner:
        q |= Q(**{lookup: user})
    return q


def _fields(model, kind: Kind) -> list:
    fields = [f for f in model._meta.concrete_fields if f.name not in kind.exclude]
    if kind.only:
        fields = [f for f in fields if f.name in kind.only]
    return fields


def _value(field, obj):
    value = getattr(obj, field.attname)
    if hasattr(value, "name") and not isinstance(value, str):  # a FieldFile: its stored name
        return value.name or ""
    return value


def rows_for(kind: Kind, user) -> list[dict]:
    model = apps.get_model(kind.model)
    fields = _fields(model, kind)
    queryset = model._default_manager.filter(_owner_q(kind, user)).distinct().order_by("pk")
    if kind.m2m:
        queryset = queryset.prefetch_related(*kind.m2m)
    rows = []
    for obj in queryset:
        # Foreign keys as their ids under the field's name ("program": 3), as stored.
        row = {f.name: _value(f, obj) for f in fields}
        for name in kind.m2m:
            row[name] = sorted(related.pk for related in getattr(obj, name).all())
        if kind.extra is not None:
            row.update(kind.extra(obj, user))
        rows.append(row)
    return rows


def acting_rows(user) -> list[dict]:
    rows = []
    for label, fields in sorted(ACTING.items()):
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        for field in fields:
            for pk in model._default_manager.filter(**{field: user}).order_by("pk").values_list("pk", flat=True):
                rows.append({"record": label, "id": pk, "as": field})
    return rows


def profile(user) -> dict:
    from tester_platform.accounts.roles import roles_of

    return {
        "id": user.pk,
        "email": user.email,
        "display_name": user.display_name,
        "public_id": str(user.public_id),
        "portfolio_url": user.portfolio_url,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "roles": sorted(roles_of(user)),
        "permissions": sorted(user.user_permissions.values_list("codename", flat=True)),
    }


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return DjangoJSONEncoder().default(value)


def to_csv(rows: list[dict]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _json(data) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


README = """Your data from Atelier
======================

manifest.json   when this was made, for whom, the audit chain's head at that moment, and
                what each file holds (with its number of records)
profile.json    your account
<kind>.json     one file per kind of record, a list of records as stored (ids, codes and
                amounts in minor units: 1050 EUR is €10.50)
<kind>.csv      the same records as a table, for a spreadsheet
acting_as_staff.json  records of other people where you acted as staff (references only)

The audit chain head lets you check later that your history was not rewritten: the event
it names must still have that hash in the chain (Atelier's verify_audit_chain).
"""


def export_zip(user) -> bytes:
    """The whole export as ZIP bytes."""
    exported_at = timezone.now()
    manifest = {
        "format_version": FORMAT_VERSION,
        "exported_at": exported_at,
        "user": {"id": user.pk, "email": user.email, "public_id": str(user.public_id)},
        # The whole chain's head now: kept by the person, it shows later whether the
        # history up to this point was changed.
        "audit_chain_head": audit_chain_head(),
        "files": {},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README)
        archive.writestr("profile.json", _json(profile(user)))
        manifest["files"]["profile.json"] = {"about": "Your account.", "records": 1}
        for kind in KINDS:
            if not _installed(kind):
                continue
            rows = rows_for(kind, user)
            archive.writestr(f"{kind.name}.json", _json(rows))
            manifest["files"][f"{kind.name}.json"] = {"about": kind.about, "records": len(rows), "model": kind.model}
            if kind.table:
                archive.writestr(f"{kind.name}.csv", to_csv(rows))
                manifest["files"][f"{kind.name}.csv"] = {"about": kind.about, "records": len(rows), "model": kind.model}
        acting = acting_rows(user)
        archive.writestr("acting_as_staff.json", _json(acting))
        manifest["files"]["acting_as_staff.json"] = {
            "about": "Other people's records where you acted as staff.",
            "records": len(acting),
        }
        archive.writestr("manifest.json", _json(manifest))
    return buffer.getvalue()


def export_filename(user) -> str:
    return f"atelier-my-data-{timezone.now():%Y%m%d-%H%M%S}.zip"
