"""Every route × role × method, taken from the URL resolver and the OpenAPI schema, so a
new route cannot be forgotten: a route missing from the table fails the test."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tester_platform.access.models import AccessFlag
from tester_platform.programs.models import Enrollment
from tests.access.matrix_world import ROLES, build_world
from tests.factories import PASSWORD, make_output
from tests.finance.helpers import matrix_owed, matrix_payout, matrix_prepared_run, matrix_run, matrix_stripe
from tests.labour.helpers import (
    matrix_accepted_report,
    matrix_assignment,
    matrix_attachment,
    matrix_rate_card,
    matrix_report,
    matrix_submitted_assignment,
    matrix_task,
    matrix_time,
)

# Roles, in order:   anon  owner other  mod  o-mod  mgr   fin  admin
ALL_200 = (200,) * 8
PORTAL = (302, 200, 200, 200, 200, 200, 200, 200)  # any signed-in user
ARTIST_OWN = (302, 200, 200, 404, 404, 404, 404, 404)  # the artist's own enrollment
OWNER_ONLY = (302, 200, 404, 404, 404, 404, 404, 404)
OWNER_POST = (302, 302, 404, 404, 404, 404, 404, 404)
STAFF = (302, 403, 403, 200, 200, 200, 200, 200)
REVIEWERS = (302, 403, 403, 200, 200, 200, 403, 200)
API_ANY = (401, 200, 200, 200, 200, 200, 200, 200)
# `?queue=review`: anyone who reviews a program (another program's moderator gets theirs)
REVIEW_QUEUE = (401, 403, 403, 200, 200, 200, 403, 200)
FINANCE_ONLY = (302, 403, 403, 403, 403, 403, 200, 200)
# The staff console: the program's managers and admins; its other staff are refused, staff of
# other programs do not learn it exists.
CONSOLE_PAGE = (302, 403, 403, 403, 404, 200, 403, 200)
CONSOLE_POST = (302, 403, 403, 403, 404, 302, 403, 302)


def _media_token(w):
    from tester_platform.studio.media import signed_media_url

    return signed_media_url(job=w.job, kind="video", user=w.user("owner")).split("/")[-2]


def _with_input(w):
    import io

    from PIL import Image

    from generation.models import GenerationJob
    from tester_platform.studio.services import generation_image_upload

    if w.job.input_image_id is None:
        buf = io.BytesIO()
        Image.new("RGB", (120, 80), (10, 120, 200)).save(buf, format="PNG")
        image = generation_image_upload(
            artist=w.user("owner"), program=w.program, data=buf.getvalue(), filename="still.png", rights_attested=True
        )
        GenerationJob.objects.filter(pk=w.job.pk).update(input_image=image)
        w.job.input_image_id = image.pk
    return w.job


def _flag(w):
    return AccessFlag.objects.create(kind="token", token=w.token, artist=w.user("owner"), reason="test flag")


def _console(w, **extra):
    return {"slug": w.program.slug, **extra}


def _console_objects(w, kind):
    from payments.models import RateCard
    from tester_platform.consent.models import ConsentDocument
    from tester_platform.programs.models import Application, Invitation, ProgramStaff
    from tests.factories import make_artist

    if kind == "invitation":
        pk = Invitation.objects.get(program=w.program).pk
    elif kind == "application":
        applicant = make_artist(email="applicant@matrix.test")
        pk = Application.objects.create(
            program=w.program, artist=applicant, portfolio_url="https://a.example", statement="Let me test"
        ).pk
    elif kind == "enrollment":
        pk = Enrollment.objects.get(artist=w.user("other_artist"), program=w.program).pk
    elif kind == "rate_card":
        pk = RateCard.objects.create(
            program=w.program, version=1, currency="EUR", hourly_rate_minor=2500, pay_floor_hourly_minor=1200
        ).pk
    elif kind == "consent":
        pk = ConsentDocument.objects.create(program=w.program, version=2, title="Draft", body="Draft").pk
    else:
        pk = ProgramStaff.objects.get(program=w.program, user=w.user("moderator")).pk
    return _console(w, pk=pk)


def _notice(w):
    from tester_platform.notifications.models import Notification

    return Notification.objects.filter(user=w.user("owner")).first()


def _announcement(w):
    from tester_platform.notifications.services import announcement_publish

    return announcement_publish(program=w.program, actor=w.user("manager"), title="Hello", body="**Testers**")


def _suspended(w):
    enrollment = Enrollment.objects.get(artist=w.user("other_artist"), program=w.program)
    Enrollment.objects.filter(pk=enrollment.pk).update(status="suspended", suspended_from="active")
    return enrollment


# (url name, method, kwargs(world) -> dict, body(world) -> dict | None, expected per role, api?)
CASES = [
    # --- artist portal ----------------------------------------------------------------
    ("portal:home", "GET", None, None, PORTAL),
    ("portal:invitation", "GET", lambda w: {"token": w.invitation_token}, None, ALL_200),
    ("portal:program", "GET", lambda w: {"slug": "matrix"}, None, ARTIST_OWN),
    ("portal:apply", "GET", lambda w: {"slug": "matrix"}, None, (302, 404, 404, 404, 404, 404, 404, 404)),
    ("portal:onboarding", "GET", lambda w: {"slug": "matrix", "step": "profile"}, None, ARTIST_OWN),
    ("portal:consent", "GET", lambda w: {"slug": "matrix"}, None, ARTIST_OWN),
    ("portal:consent_withdraw", "GET", lambda w: {"slug": "matrix"}, None, ARTIST_OWN),
    ("portal:activity", "GET", None, None, PORTAL),
    ("portal:export", "GET", None, None, PORTAL),
    ("accounts:two_factor", "GET", None, None, STAFF),
    # --- inbox and announcements ---------------------------------------------------------
    ("notifications:inbox", "GET", None, None, PORTAL),
    ("notifications:mark_read", "POST", None, None, (302,) * 8),
    ("notifications:open", "GET", lambda w: {"pk": _notice(w).pk}, None, (302, 302, 404, 404, 404, 404, 404, 404)),
    ("notifications:settings", "GET", None, None, PORTAL),
    ("notifications:settings", "POST", None, lambda w: {"email": ["share_decided"]}, (302,) * 8),
    (
        "notifications:announcement",
        "GET",
        lambda w: {"pk": _announcement(w).pk},
        None,
        (302, 200, 200, 200, 404, 200, 200, 200),
    ),
    ("access:tokens", "GET", None, None, PORTAL),
    ("access:token_revoke", "POST", lambda w: {"pk": w.token.pk}, None, OWNER_POST),
    ("access:flags", "GET", None, None, (302, 403, 403, 200, 200, 200, 403, 200)),
    (
        "access:flag_review",
        "POST",
        lambda w: {"pk": _flag(w).pk},
        lambda w: {"decision": "undo"},
        (302, 403, 403, 302, 404, 302, 403, 302),
    ),
    ("access:reinstate", "POST", lambda w: {"pk": _suspended(w).pk}, None, (302, 403, 403, 403, 403, 302, 403, 302)),
    # --- studio -------------------------------------------------------------------------
    ("studio:studio", "GET", None, None, PORTAL),
    ("studio:storyboard", "GET", None, None, PORTAL),
    ("studio:detail", "GET", lambda w: {"job_id": w.job.pk}, None, (302, 200, 404, 200, 404, 200, 404, 200)),
    ("studio:progress", "GET", lambda w: {"job_id": w.job.pk}, None, (302, 200, 404, 200, 404, 200, 404, 200)),
    ("studio:cancel", "POST", lambda w: {"job_id": w.job.pk}, None, OWNER_POST),
    ("studio:media", "GET", lambda w: {"token": _media_token(w)}, None, (404, 200, 404, 404, 404, 404, 404, 404)),
    # --- sharing: artist and public -----------------------------------------------------------
    ("sharing:mine", "GET", None, None, PORTAL),
    ("sharing:policy", "GET", lambda w: {"slug": "matrix"}, None, ARTIST_OWN),
    ("sharing:create", "GET", lambda w: {"generation_id": w.job.pk}, None, OWNER_ONLY),
    ("sharing:detail", "GET", lambda w: {"pk": w.share.pk}, None, OWNER_ONLY),
    ("sharing:withdraw", "POST", lambda w: {"pk": w.share.pk}, None, OWNER_POST),
    ("sharing:revoke", "POST", lambda w: {"pk": w.approved.pk}, None, OWNER_POST),
    ("sharing:appeal", "POST", lambda w: {"pk": w.share.pk}, lambda w: {"note": "please"}, OWNER_POST),
    ("sharing:resubmit", "POST", lambda w: {"pk": w.share.pk}, lambda w: {"caption": "new"}, OWNER_POST),
    ("share_public", "GET", lambda w: {"slug": w.approved.public_slug}, None, ALL_200),
    ("share_public_video", "GET", lambda w: {"slug": w.approved.public_slug}, None, ALL_200),
    ("share_public_poster", "GET", lambda w: {"slug": w.approved.public_slug}, None, ALL_200),
    # --- labour: artist -----------------------------------------------------------------
    ("labour:earnings", "GET", None, None, PORTAL),
    ("labour:earnings_csv", "GET", None, None, PORTAL),
    ("labour:feedback_list", "GET", None, None, PORTAL),
    ("labour:feedback_new", "GET", None, None, PORTAL),
    ("labour:time_list", "GET", None, None, PORTAL),
    ("labour:time_new", "GET", None, None, PORTAL),
    (
        "labour:feedback_detail",
        "GET",
        lambda w: {"report_id": matrix_report(w).pk},
        None,
        (302, 200, 404, 200, 404, 200, 404, 200),
    ),
    (
        "labour:time_detail",
        "GET",
        lambda w: {"entry_id": matrix_time(w).pk},
        None,
        (302, 200, 404, 200, 404, 200, 404, 200),
    ),
    (
        "labour:attachment",
        "GET",
        lambda w: {"attachment_id": matrix_attachment(w).pk},
        None,
        (302, 200, 404, 200, 404, 200, 404, 200),
    ),
    ("labour:tasks", "GET", None, None, PORTAL),
    (
        "labour:task_detail",
        "GET",
        lambda w: {"task_id": matrix_task(w).pk},
        None,
        (302, 200, 200, 200, 404, 200, 404, 200),
    ),
    # staff may open the task (to review it) but are not offered it: refused with the reason
    (
        "labour:task_take",
        "POST",
        lambda w: {"task_id": matrix_task(w).pk},
        None,
        (302, 302, 302, 302, 404, 302, 404, 302),
    ),
    (
        "labour:assignment_submit",
        "POST",
        lambda w: {"task_id": matrix_assignment(w).task_id},
        lambda w: {"note": "done"},
        OWNER_POST,
    ),
    ("labour:assignment_withdraw", "POST", lambda w: {"task_id": matrix_assignment(w).task_id}, None, OWNER_POST),
    # --- labour: reviewers ---------------------------------------------------------------
    ("labour_review:queue", "GET", None, None, REVIEWERS),
    (
        "labour_review:feedback_review",
        "POST",
        lambda w: {"report_id": matrix_report(w).pk},
        lambda w: {"decision": "accept"},
        (302, 403, 403, 302, 404, 302, 403, 302),
    ),
    (
        "labour_review:time_review",
        "POST",
        lambda w: {"entry_id": matrix_time(w).pk},
        lambda w: {"decision": "accept"},
        (302, 403, 403, 302, 404, 302, 403, 302),
    ),
    (
        "labour_review:bulk_accept",
        "POST",
        None,
        lambda w: {"feedback": [matrix_report(w).pk]},
        (302, 403, 403, 302, 302, 302, 403, 302),
    ),
    (
        "labour_review:feedback_rerate",
        "POST",
        lambda w: {"report_id": matrix_report(w).pk},
        lambda w: {"severity": "critical", "reason": "worse"},
        (302, 403, 403, 302, 404, 302, 403, 302),
    ),
    ("labour_review:assignments", "GET", None, None, REVIEWERS),
    (
        "labour_review:assignment_review",
        "POST",
        lambda w: {"assignment_id": matrix_submitted_assignment(w).pk},
        lambda w: {"decision": "accept"},
        (302, 403, 403, 302, 404, 302, 403, 302),
    ),
    (
        "labour_review:acted_on",
        "POST",
        lambda w: {"report_id": matrix_accepted_report(w).pk},
        None,
        (302, 403, 403, 302, 404, 302, 403, 302),
    ),
    # --- staff dashboard ----------------------------------------------------------------
    ("dashboard:home", "GET", None, None, STAFF),
    ("dashboard:workers", "GET", None, None, STAFF),
    # --- staff console (program managers) -----------------------------------------------
    ("dashboard:console", "GET", None, None, (302, 403, 403, 403, 403, 200, 403, 200)),
    ("dashboard:console_settings", "GET", _console, None, CONSOLE_PAGE),
    (
        "dashboard:console_settings",
        "POST",
        _console,
        lambda w: {
            "name": "Renamed",
            "daily_compute_seconds": 600,
            "max_concurrent_jobs": 2,
            "max_resolution": "preview",
            "max_duration_seconds": 5,
            "share_review_hours": 48,
        },
        CONSOLE_POST,
    ),
    ("dashboard:console_pause", "POST", _console, lambda w: {"reason": "matrix"}, CONSOLE_POST),
    ("dashboard:console_resume", "POST", _console, None, CONSOLE_POST),
    ("dashboard:console_invitations", "GET", _console, None, CONSOLE_PAGE),
    ("dashboard:console_invitations", "POST", _console, lambda w: {"emails": "new@matrix.test"}, CONSOLE_POST),
    ("dashboard:console_invitation_resend", "POST", lambda w: _console_objects(w, "invitation"), None, CONSOLE_POST),
    ("dashboard:console_invitation_revoke", "POST", lambda w: _console_objects(w, "invitation"), None, CONSOLE_POST),
    ("dashboard:console_applications", "GET", _console, None, CONSOLE_PAGE),
    (
        "dashboard:console_application_decide",
        "POST",
        lambda w: _console_objects(w, "application"),
        lambda w: {"decision": "accept"},
        CONSOLE_POST,
    ),
    ("dashboard:console_enrollments", "GET", _console, None, CONSOLE_PAGE),
    (
        "dashboard:console_enrollment_suspend",
        "POST",
        lambda w: _console_objects(w, "enrollment"),
        lambda w: {"reason": "matrix"},
        CONSOLE_POST,
    ),
    (
        "dashboard:console_enrollment_reinstate",
        "POST",
        lambda w: {"slug": "matrix", "pk": _suspended(w).pk},
        None,
        CONSOLE_POST,
    ),
    ("dashboard:console_rate_cards", "GET", _console, None, CONSOLE_PAGE),
    ("dashboard:console_rate_card_publish", "POST", lambda w: _console_objects(w, "rate_card"), None, CONSOLE_POST),
    ("dashboard:console_consent", "GET", _console, None, CONSOLE_PAGE),
    ("dashboard:console_consent_publish", "POST", lambda w: _console_objects(w, "consent"), None, CONSOLE_POST),
    ("dashboard:console_staff", "GET", _console, None, CONSOLE_PAGE),
    ("dashboard:console_staff_revoke", "POST", lambda w: _console_objects(w, "staff"), None, CONSOLE_POST),
    ("dashboard:console_audit", "GET", _console, None, CONSOLE_PAGE),
    ("dashboard:console_marketing", "GET", _console, None, CONSOLE_PAGE),
    ("dashboard:console_marketing", "POST", _console, lambda w: {"generation": w.job.pk}, CONSOLE_POST),
    ("dashboard:console_tasks", "GET", _console, None, CONSOLE_PAGE),
    (
        "dashboard:console_tasks",
        "POST",
        _console,
        lambda w: (
            matrix_rate_card(w)
            and {
                "title": "T",
                "instructions": "Do it",
                "category": "quality",
                "estimated_minutes": 30,
                "pay": "hourly",
                "capacity": 2,
                "due_at": (timezone.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            }
        ),
        CONSOLE_POST,
    ),
    ("dashboard:console_task_close", "POST", lambda w: _console(w, pk=matrix_task(w).pk), None, CONSOLE_POST),
    ("dashboard:console_announcements", "GET", _console, None, CONSOLE_PAGE),
    (
        "dashboard:console_announcements",
        "POST",
        _console,
        lambda w: {"title": "Hello", "body": "Testers"},
        CONSOLE_POST,
    ),
    ("sharing_review:queue", "GET", None, None, REVIEWERS),
    ("sharing_review:figures", "GET", None, None, REVIEWERS),
    (
        "sharing_review:bulk_approve",
        "POST",
        None,
        lambda w: {"ids": [w.share.pk]},
        (302, 403, 403, 302, 302, 302, 403, 302),
    ),
    ("sharing_review:review", "GET", lambda w: {"pk": w.share.pk}, None, (302, 403, 403, 200, 404, 200, 403, 200)),
    (
        "sharing_review:decide_appeal",
        "POST",
        lambda w: {"pk": w.share.pk},
        lambda w: {"outcome": "overturn"},
        (302, 403, 403, 302, 404, 302, 403, 302),
    ),
    # The admin is for superusers only; managers work in the staff console.
    ("admin:index", "GET", None, None, (302, 302, 302, 302, 302, 302, 302, 200)),
    # --- plumbing -----------------------------------------------------------------------
    ("healthz", "GET", None, None, ALL_200),
    ("metrics", "GET", None, None, (401,) * 8),  # a bearer METRICS_TOKEN, never a user session
    ("schema", "GET", None, None, ALL_200),
    ("api-docs", "GET", None, None, ALL_200),
    ("account_login", "GET", None, None, (200, 302, 302, 302, 302, 302, 302, 302)),
    ("account_signup", "GET", None, None, (200, 302, 302, 302, 302, 302, 302, 302)),
    ("account_reset_password", "GET", None, None, ALL_200),
    # --- API v1 ---------------------------------------------------------------------------
    ("api:token", "POST", None, lambda w: {"email": "owner@matrix.test", "password": PASSWORD}, (201,) * 8),
    ("api:token", "DELETE", None, None, (401,) * 8),  # revokes only the bearer token that authenticates it
    ("api:me", "GET", None, None, API_ANY),
    ("api:consent", "GET", lambda w: {"?": f"program={w.program.pk}"}, None, (401, 200, 200, 404, 404, 404, 404, 404)),
    (
        "api:consent",
        "POST",
        None,
        lambda w: {"program": w.program.pk, "document_version": 1, "participation": True},
        (401, 201, 201, 404, 404, 404, 404, 404),
    ),
    (
        "api:consent-withdraw",
        "POST",
        None,
        lambda w: {"program": w.program.pk},
        (401, 201, 201, 404, 404, 404, 404, 404),
    ),
    ("api:audit", "GET", None, None, API_ANY),
    ("api:portal_api:me-export", "GET", None, None, API_ANY),
    ("api:usage", "GET", None, None, API_ANY),
    # an upload without a file: the enrolled artists get the field error, everyone else 403
    (
        "api:images",
        "POST",
        None,
        lambda w: {"program": w.program.pk, "rights_attested": True},
        (401, 400, 400, 403, 403, 403, 403, 403),
    ),
    ("api:program-list", "GET", None, None, API_ANY),
    ("api:program-detail", "GET", lambda w: {"pk": w.program.pk}, None, (401, 200, 200, 200, 404, 200, 200, 200)),
    ("api:program-pause", "POST", lambda w: {"pk": w.program.pk}, None, (401, 403, 403, 403, 404, 200, 403, 200)),
    ("api:program-resume", "POST", lambda w: {"pk": w.program.pk}, None, (401, 403, 403, 403, 404, 200, 403, 200)),
    ("api:generation-list", "GET", None, None, API_ANY),
    (
        "api:generation-list",
        "POST",
        None,
        lambda w: {"program": w.program.pk, "mode": "text_to_video", "prompt": "p", "duration_seconds": 1},
        (401, 201, 201, 403, 403, 403, 403, 403),
    ),
    ("api:generation-detail", "GET", lambda w: {"pk": w.job.pk}, None, (401, 200, 404, 200, 404, 200, 404, 200)),
    ("api:generation-cancel", "POST", lambda w: {"pk": w.job.pk}, None, (401, 409, 404, 404, 404, 404, 404, 404)),
    # the files read like the generation: its artist and the program's reviewers
    ("api:generation-download", "GET", lambda w: {"pk": w.job.pk}, None, (401, 200, 404, 200, 404, 200, 404, 200)),
    (
        "api:generation-input-image",
        "GET",
        lambda w: {"pk": _with_input(w).pk},
        None,
        (401, 200, 404, 200, 404, 200, 404, 200),
    ),
    ("api:labour_api:earnings", "GET", None, None, API_ANY),
    ("api:labour_api:feedback-list", "GET", None, None, API_ANY),
    ("api:labour_api:feedback-list", "GET", lambda w: {"?": "queue=review"}, None, REVIEW_QUEUE),
    (
        "api:labour_api:feedback-list",
        "POST",
        None,
        lambda w: {"program": w.program.pk, "category": "bug", "severity": "low", "title": "t", "body": "b"},
        (401, 201, 201, 403, 403, 403, 403, 403),
    ),
    (
        "api:labour_api:feedback-detail",
        "GET",
        lambda w: {"pk": matrix_report(w).pk},
        None,
        (401, 200, 404, 200, 404, 200, 404, 200),
    ),
    (
        "api:labour_api:feedback-review",
        "POST",
        lambda w: {"pk": matrix_report(w).pk},
        lambda w: {"decision": "accept"},
        (401, 403, 404, 200, 404, 200, 404, 200),
    ),
    (
        "api:labour_api:feedback-rerate",
        "POST",
        lambda w: {"pk": matrix_report(w).pk},
        lambda w: {"severity": "critical", "reason": "worse"},
        (401, 403, 404, 200, 404, 200, 404, 200),
    ),
    (
        "api:labour_api:feedback-acted-on",
        "POST",
        lambda w: {"pk": matrix_accepted_report(w).pk},
        lambda w: {},
        (401, 403, 404, 403, 404, 200, 404, 200),
    ),
    ("api:labour_api:time-entry-list", "GET", None, None, API_ANY),
    ("api:labour_api:time-entry-list", "GET", lambda w: {"?": "queue=review"}, None, REVIEW_QUEUE),
    (
        "api:labour_api:time-entry-list",
        "POST",
        None,
        lambda w: {
            "program": w.program.pk,
            "date": (timezone.localdate() - dt.timedelta(days=1)).isoformat(),
            "minutes": 30,
            "description": "d",
        },
        (401, 201, 201, 403, 403, 403, 403, 403),
    ),
    (
        "api:labour_api:time-entry-detail",
        "GET",
        lambda w: {"pk": matrix_time(w).pk},
        None,
        (401, 200, 404, 200, 404, 200, 404, 200),
    ),
    (
        "api:labour_api:time-entry-review",
        "POST",
        lambda w: {"pk": matrix_time(w).pk},
        lambda w: {"decision": "accept"},
        (401, 403, 404, 200, 404, 200, 404, 200),
    ),
    (
        "api:labour_api:time-entry-suggestions",
        "GET",
        lambda w: {"?": f"program={w.program.pk}"},
        None,
        (401, 200, 200, 404, 404, 404, 404, 404),
    ),
    ("api:labour_api:task-list", "GET", None, None, API_ANY),
    ("api:labour_api:task-list", "GET", lambda w: {"?": "queue=review"}, None, REVIEW_QUEUE),
    (
        "api:labour_api:task-detail",
        "GET",
        lambda w: {"pk": matrix_task(w).pk},
        None,
        (401, 200, 200, 200, 404, 200, 404, 200),
    ),
    ("api:labour_api:assignment-list", "GET", None, None, API_ANY),
    ("api:labour_api:assignment-list", "GET", lambda w: {"?": "queue=review"}, None, REVIEW_QUEUE),
    (
        "api:labour_api:assignment-detail",
        "GET",
        lambda w: {"pk": matrix_assignment(w).pk},
        None,
        (401, 200, 404, 200, 404, 200, 404, 200),
    ),
    (
        "api:labour_api:assignment-review",
        "POST",
        lambda w: {"pk": matrix_submitted_assignment(w).pk},
        lambda w: {"decision": "accept"},
        (401, 403, 404, 200, 404, 200, 404, 200),
    ),
    ("api:sharing_api:share-request-list", "GET", None, None, API_ANY),
    ("api:sharing_api:share-request-list", "GET", lambda w: {"?": "queue=review"}, None, REVIEW_QUEUE),
    (
        "api:sharing_api:program-reasons",
        "GET",
        lambda w: {"pk": w.program.pk},
        None,
        (401, 200, 200, 200, 404, 200, 200, 200),
    ),
    (
        "api:labour_api:program-severities",
        "GET",
        lambda w: {"pk": w.program.pk},
        None,
        (401, 200, 200, 200, 404, 200, 200, 200),
    ),
    (
        "api:sharing_api:share-request-list",
        "POST",
        None,
        lambda w: {"generation": make_output(w.user("owner"), w.program).pk, "caption": "c", "destination": "press"},
        (401, 201, 404, 404, 404, 404, 404, 404),
    ),
    (
        "api:sharing_api:share-request-detail",
        "GET",
        lambda w: {"pk": w.share.pk},
        None,
        (401, 200, 404, 200, 404, 200, 404, 200),
    ),
    (
        "api:sharing_api:share-request-decide",
        "POST",
        lambda w: {"pk": w.share.pk},
        lambda w: {"decision": "approve"},
        (401, 403, 404, 200, 404, 200, 404, 200),
    ),
    (
        "api:sharing_api:share-request-appeal",
        "POST",
        lambda w: {"pk": w.share.pk},
        lambda w: {"note": "n"},
        (401, 409, 404, 404, 404, 404, 404, 404),
    ),
    (
        "api:sharing_api:share-request-appeal-decide",
        "POST",
        lambda w: {"pk": w.share.pk},
        lambda w: {"decision": "overturn"},
        (401, 403, 404, 409, 404, 409, 404, 409),
    ),
    (
        "api:sharing_api:share-request-resubmit",
        "POST",
        lambda w: {"pk": w.share.pk},
        lambda w: {},
        (401, 409, 404, 404, 404, 404, 404, 404),
    ),
    (
        "api:sharing_api:share-request-revoke",
        "POST",
        lambda w: {"pk": w.approved.pk},
        None,
        (401, 200, 404, 404, 404, 404, 404, 404),
    ),
    (
        "api:sharing_api:share-request-withdraw",
        "POST",
        lambda w: {"pk": w.share.pk},
        None,
        (401, 200, 404, 404, 404, 404, 404, 404),
    ),
    # --- finance: payout runs, reports, the artist's payouts, Stripe ----------------------
    ("finance:home", "GET", None, None, FINANCE_ONLY),
    ("finance:run_create", "POST", None, matrix_owed, (302, 403, 403, 403, 403, 403, 302, 302)),
    ("finance:run_detail", "GET", lambda w: {"run_id": matrix_run(w).pk}, None, FINANCE_ONLY),
    ("finance:run_detail", "GET", lambda w: {"run_id": matrix_prepared_run(w).pk}, None, FINANCE_ONLY),
    # Four eyes: the world's finance user prepared the run, so its approval is refused (a
    # redirect back with the reason); the admin approves.
    (
        "finance:run_approve",
        "POST",
        lambda w: {"run_id": matrix_prepared_run(w).pk},
        None,
        (302, 403, 403, 403, 403, 403, 302, 302),
    ),
    (
        "finance:run_discard",
        "POST",
        lambda w: {"run_id": matrix_prepared_run(w).pk},
        None,
        (302, 403, 403, 403, 403, 403, 302, 302),
    ),
    (
        "finance:run_execute",
        "POST",
        lambda w: {"run_id": matrix_run(w).pk},
        None,
        (302, 403, 403, 403, 403, 403, 302, 302),
    ),
    ("finance:reconciliation", "GET", None, None, FINANCE_ONLY),
    ("finance:reconciliation_run", "POST", matrix_stripe, None, (302, 403, 403, 403, 403, 403, 302, 302)),
    ("finance:period_report", "GET", None, None, FINANCE_ONLY),
    ("finance:run_report", "GET", lambda w: {"run_id": matrix_run(w).pk}, None, FINANCE_ONLY),
    ("finance:run_report_csv", "GET", lambda w: {"run_id": matrix_run(w).pk}, None, FINANCE_ONLY),
    ("finance:run_report_pdf", "GET", lambda w: {"run_id": matrix_run(w).pk}, None, FINANCE_ONLY),
    ("finance:period_report_csv", "GET", None, None, FINANCE_ONLY),
    ("finance:period_report_pdf", "GET", None, None, FINANCE_ONLY),
    ("finance:payouts", "GET", None, None, PORTAL),
    ("finance:payout_connect", "POST", matrix_stripe, None, (302, 302, 302, 403, 403, 403, 403, 403)),
    # Stripe's refresh_url: a GET only shows a button; the POST makes the new link.
    ("finance:payout_refresh", "GET", matrix_stripe, None, (302, 200, 200, 403, 403, 403, 403, 403)),
    ("finance:payout_refresh", "POST", matrix_stripe, None, (302, 302, 302, 403, 403, 403, 403, 403)),
    ("finance:payout_return", "GET", None, None, (302,) * 8),
    (
        "finance:statement",
        "GET",
        lambda w: {"payout_id": matrix_payout(w).pk},
        None,
        (302, 200, 404, 404, 404, 404, 200, 200),
    ),
    (
        "finance:statement_pdf",
        "GET",
        lambda w: {"payout_id": matrix_payout(w).pk},
        None,
        (302, 200, 404, 404, 404, 404, 200, 200),
    ),
    ("finance:stripe_webhook", "POST", None, lambda w: {"id": "evt_unsigned"}, (400,) * 8),
    ("finance:stripe_connect_webhook", "POST", None, lambda w: {"id": "evt_unsigned"}, (400,) * 8),
    ("api:finance_api:payout-account", "GET", None, None, API_ANY),
    ("api:finance_api:payout-account", "POST", matrix_stripe, None, (401, 201, 201, 403, 403, 403, 403, 403)),
    ("api:finance_api:payout-list", "GET", None, None, API_ANY),
    (
        "api:finance_api:payout-detail",
        "GET",
        lambda w: {"pk": matrix_payout(w).pk},
        None,
        (401, 200, 404, 404, 404, 404, 404, 404),
    ),
    # the statement: its artist, and finance (as on the web); nobody else learns it exists
    (
        "api:finance_api:payout-statement",
        "GET",
        lambda w: {"pk": matrix_payout(w).pk},
        None,
        (401, 200, 404, 404, 404, 404, 200, 200),
    ),
    (
        "api:finance_api:payout-run-report-csv",
        "GET",
        lambda w: {"pk": matrix_run(w).pk},
        None,
        (401, 403, 403, 403, 403, 403, 200, 200),
    ),
    (
        "api:finance_api:payout-run-report-pdf",
        "GET",
        lambda w: {"pk": matrix_run(w).pk},
        None,
        (401, 403, 403, 403, 403, 403, 200, 200),
    ),
    (
        "api:finance_api:payout-run-period-report-csv",
        "GET",
        lambda w: {"?": "start=2026-01-01&end=2026-01-31"},
        None,
        (401, 403, 403, 403, 403, 403, 200, 200),
    ),
    (
        "api:finance_api:payout-run-period-report-pdf",
        "GET",
        lambda w: {"?": "start=2026-01-01&end=2026-01-31"},
        None,
        (401, 403, 403, 403, 403, 403, 200, 200),
    ),
    ("api:finance_api:payout-run-list", "GET", None, None, (401, 403, 403, 403, 403, 403, 200, 200)),
    ("api:finance_api:payout-run-list", "POST", None, matrix_owed, (401, 403, 403, 403, 403, 403, 201, 201)),
    (
        "api:finance_api:payout-run-detail",
        "GET",
        lambda w: {"pk": matrix_run(w).pk},
        None,
        (401, 403, 403, 403, 403, 403, 200, 200),
    ),
    # The preparer (the world's finance user) is refused: 403 four_eyes.
    (
        "api:finance_api:payout-run-approve",
        "POST",
        lambda w: {"pk": matrix_prepared_run(w).pk},
        None,
        (401, 403, 403, 403, 403, 403, 403, 200),
    ),
    (
        "api:finance_api:payout-run-discard",
        "POST",
        lambda w: {"pk": matrix_prepared_run(w).pk},
        None,
        (401, 403, 403, 403, 403, 403, 200, 200),
    ),
]

# Third-party routes whose access rules are the library's own; the table names why.
EXEMPT = {
    "account_logout": "allauth: signs out the current session",
    "account_inactive": "allauth: static page",
    "account_reauthenticate": "allauth: asks the signed-in user for the password again",
    "account_email": "allauth: the signed-in user's own addresses",
    "account_email_verification_sent": "allauth: static page",
    "account_change_password": "allauth: the signed-in user's own password",
    "account_set_password": "allauth: the signed-in user's own password",
    "account_confirm_login_code": "allauth: login by code is not enabled",
    "account_confirm_email": "allauth: keyed by an emailed secret",
    "account_reset_password_from_key_done": "allauth: static page",
    "account_reset_password_from_key": "allauth: keyed by an emailed secret",
    "account_reset_password_done": "allauth: static page",
}
ADMIN_NAMESPACE = "admin"  # every admin route is behind admin_view; admin:index stands for them


def _all_route_names() -> set[str]:
    names = set()

    def walk(patterns, namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}:{p.namespace}" if namespace and p.namespace else p.namespace or namespace
                if ns == ADMIN_NAMESPACE:
                    names.add("admin:index")
                    continue
                walk(p.url_patterns, ns)
            elif isinstance(p, URLPattern) and p.name:
                names.add(f"{namespace}:{p.name}" if namespace else p.name)

    walk(get_resolver().url_patterns)
    return names


def test_every_route_is_in_the_table():
    covered = {c[0] for c in CASES} | set(EXEMPT)
    missing = sorted(_all_route_names() - covered)
    assert not missing, f"routes without an authorization row: {missing}"


def test_every_operation_of_the_openapi_schema_is_in_the_table():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    table = {(c[0], c[1]) for c in CASES}
    missing = []
    for path, operations in schema["paths"].items():
        match = resolve(path.replace("{id}", "1").replace("{pk}", "1"))
        name = f"{match.namespace}:{match.url_name}" if match.namespace else match.url_name
        for method in operations:
            if (name, method.upper()) not in table:
                missing.append(f"{method.upper()} {path} ({name})")
    assert not missing, f"API operations without an authorization row: {missing}"


def _request(world, role, name, method, kwargs_fn, body_fn):
    kwargs = kwargs_fn(world) if kwargs_fn else {}
    query = kwargs.pop("?", "")
    url = reverse(name, kwargs=kwargs or None) + (f"?{query}" if query else "")
    client = APIClient()
    user = world.user(role)
    if user is not None:
        client.force_login(user)
    body = body_fn(world) if body_fn else None
    is_api = url.startswith("/api/v1/")
    if is_api:
        return client.generic(
            method, url, json.dumps(body) if body is not None else "", content_type="application/json"
        )
    return (
        client.generic(method, url, _form(body), content_type="application/x-www-form-urlencoded")
        if method == "POST"
        else client.get(url)
    )


def _form(body):
    from urllib.parse import urlencode

    return urlencode(body or {}, doseq=True)


@pytest.mark.parametrize("name,method,kwargs_fn,body_fn,expected", CASES, ids=[f"{c[1]} {c[0]}" for c in CASES])
def test_route_answers_each_role_as_expected(db, name, method, kwargs_fn, body_fn, expected):
    assert len(expected) == len(ROLES)
    failures = []
    world = build_world() if method == "GET" else None
    for role, status in zip(ROLES, expected, strict=True):
        if world is None or method != "GET":
            # A write changes the world: each role gets a fresh one, rolled back after.
            with transaction.atomic():
                fresh = build_world()
                response = _request(fresh, role, name, method, kwargs_fn, body_fn)
                transaction.set_rollback(True)
        else:
            response = _request(world, role, name, method, kwargs_fn, body_fn)
        if response.status_code != status:
            failures.append(f"{role}: expected {status}, got {response.status_code}")
    assert not failures, f"{method} {name}: " + "; ".join(failures)
