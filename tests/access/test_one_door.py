"""One door: every entry point passes the one policy (tester_platform/policy.py).

Each test here names the side door an outside audit of main walked through, and fails on
that main: staff without their second factor acting through the API or the portal, read-
only tokens writing, a manager reaching another program, self-dealing, two review steps
passed by one moderator, flag reviews across programs. The token-scope × method and
2FA × path dimensions are generated from the URL resolver and the OpenAPI schema, so a new
route cannot be forgotten."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.permissions import SAFE_METHODS
from rest_framework.test import APIClient

from generation.models import GenerationJob
from payments.models import LedgerEntry, PayoutRun
from tester_platform.access.models import AccessFlag
from tester_platform.access.services import access_flag_review
from tester_platform.api.models import ApiToken
from tester_platform.api.permissions import token_scope_needed
from tester_platform.api.services import token_create
from tester_platform.audit.models import AuditEvent
from tester_platform.consent.models import ConsentRecord
from tester_platform.errors import NotAllowed, NotFound
from tester_platform.labour.models import FeedbackReport, TimeEntry
from tester_platform.policy import SecondFactorRequired, SelfDealing
from tester_platform.programs.models import Enrollment, Invitation, Program, ProgramStaff
from tester_platform.programs.services import enrollment_suspend, invitation_create, program_set_paused
from tester_platform.sharing.models import ReviewStep, ShareRequest
from tester_platform.sharing.services import (
    share_appeal_decide,
    share_request_appeal,
    share_request_create,
    share_request_decide,
    share_requests_bulk_approve,
)
from tests.access.matrix_world import build_world
from tests.factories import PASSWORD, UserFactory, add_staff, enroll, make_output, sign

STAFF_ROLES = ("moderator", "manager", "finance", "admin")


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):06d}"


def _authenticator(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def _row_counts() -> dict[str, int]:
    models = (
        AuditEvent,
        ShareRequest,
        GenerationJob,
        ConsentRecord,
        PayoutRun,
        FeedbackReport,
        TimeEntry,
        ApiToken,
        Invitation,
        LedgerEntry,
        ProgramStaff,
    )
    counts = {m.__name__: m.objects.count() for m in models}
    counts["paused"] = Program.objects.filter(status=Program.Status.PAUSED).count()
    return counts


# --- the routes, from the resolver and the schema -----------------------------------------


def _sample_kwargs(pattern) -> dict | None:
    """Values that fit each path parameter's converter or regex, or None if none fits."""
    import re

    regex = pattern.pattern.regex
    names = list(regex.groupindex)
    for sample in ("1", "abc", "a1"):
        path_regex = regex.pattern
        kwargs = {name: sample for name in names}
        try:
            candidate = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m, kwargs=kwargs: kwargs[m.group(1)], path_regex)
        except KeyError:
            continue
        if regex.search(candidate.lstrip("^").rstrip("$").replace("\\Z", "")):
            return kwargs
    return {name: "1" for name in names}


def every_route() -> list[tuple[str, str]]:
    """(url name, concrete path) for every named route, admin's included."""
    routes = []

    def walk(patterns, namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}:{p.namespace}" if namespace and p.namespace else p.namespace or namespace
                walk(p.url_patterns, ns)
            elif isinstance(p, URLPattern) and p.name:
                name = f"{namespace}:{p.name}" if namespace else p.name
                try:
                    path = reverse(name, kwargs=_sample_kwargs(p) or None)
                except Exception:  # a pattern whose parameters no sample fits: covered by its siblings
                    continue
                routes.append((name, path))

    walk(get_resolver().url_patterns)
    return sorted(set(routes))


def api_operations() -> list[tuple[str, str, object]]:
    """(path template, METHOD, view instance with its action set) for every operation."""
    from drf_spectacular.generators import EndpointEnumerator

    operations = []
    for path, _regex, method, callback in EndpointEnumerator().get_api_endpoints():
        view = callback.cls(**getattr(callback, "initkwargs", {}) or {})
        actions = getattr(callback, "actions", None)
        if actions:
            view.action = actions.get(method.lower())
        operations.append((path, method.upper(), view))
    return operations


# Operations no token may perform, on purpose, each with the reason.
TOKENLESS_ON_PURPOSE = {
    ("/api/v1/auth/token/", "POST"): "mints a token from a password (and, for staff, a current code)",
    ("/api/v1/auth/token/", "DELETE"): "revokes the very token that authenticates it, whatever its scopes",
    ("/api/v1/payout-account/", "POST"): "an onboarding link redirects money: a signed-in browser session only",
}


def test_every_unsafe_api_operation_declares_the_scope_a_token_needs():
    undeclared = []
    for path, method, view in api_operations():
        if method in SAFE_METHODS or (path, method) in TOKENLESS_ON_PURPOSE:
            continue
        if token_scope_needed(view, method) is None:
            undeclared.append(f"{method} {path}")
    assert not undeclared, f"unsafe operations that name no token scope (tokens refused): {undeclared}"
    assert len([op for op in api_operations() if op[1] not in SAFE_METHODS]) >= 20


def test_an_operation_that_names_no_scope_refuses_tokens():
    class Forgotten:
        pass

    assert token_scope_needed(Forgotten(), "POST") is None
    assert token_scope_needed(Forgotten(), "GET") == ApiToken.Scope.READ


def _fill(path: str, world) -> str:
    """A real object's id where there is one (the scope check comes before the lookup, so
    any id would do; a real one shows the refusal is not a 404 in disguise)."""
    pk = world.share.pk if "/share-requests/" in path else world.job.pk if "/generations/" in path else world.program.pk
    for placeholder in ("{pk}", "{id}", "{program}"):
        path = path.replace(placeholder, str(pk))
    return path


@pytest.mark.parametrize("holder", ["owner", "admin"])
def test_a_read_only_token_gets_403_on_every_unsafe_operation_and_writes_nothing(db, holder):
    world = build_world()
    _, raw = token_create(user=world.user(holder), name="read only", scopes=[ApiToken.Scope.READ])
    client = bearer(raw)
    before = _row_counts()
    answered = []
    for path, method, _view in api_operations():
        if method in SAFE_METHODS or path == "/api/v1/auth/token/":
            continue
        response = client.generic(
            method, _fill(path, world), json.dumps({"program": world.program.pk}), content_type="application/json"
        )
        answered.append((method, path, response.status_code))
    wrong = [a for a in answered if a[2] != 403]
    assert not wrong, f"a read-only token was not refused: {wrong}"
    assert _row_counts() == before


def test_scopes_are_per_action_consent_needs_consent_and_generate_does_not_carry_it(db):
    world = build_world()
    owner = world.user("owner")
    _, generate_only = token_create(user=owner, name="g", scopes=[ApiToken.Scope.GENERATE])
    _, consent_only = token_create(user=owner, name="c", scopes=[ApiToken.Scope.CONSENT])
    body = {"program": world.program.pk}
    assert bearer(generate_only).post("/api/v1/consent/withdraw/", body, format="json").status_code == 403
    assert bearer(consent_only).post("/api/v1/consent/withdraw/", body, format="json").status_code == 201
    _, review_less = token_create(user=world.user("moderator"), name="m", scopes=[ApiToken.Scope.SHARE])
    response = bearer(review_less).post(
        f"/api/v1/share-requests/{world.share.pk}/decide/", {"decision": "approve"}, format="json"
    )
    assert response.status_code == 403 and "review" in response.json()["detail"]


# --- staff 2FA on every path ------------------------------------------------------------

_OPEN = (
    "/account/two-factor/",
    "/accounts/logout/",
    "/static/",
    "/s/",
    "/healthz",
    "/api/v1/auth/token/",
    "/api/schema/",
    "/api/docs/",
)


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_an_unverified_staff_session_reaches_no_route_but_the_second_factor_step(db, role, settings):
    world = build_world()
    settings.STAFF_2FA_REQUIRED = True
    client = APIClient()
    client.force_login(world.user(role))
    before = _row_counts()
    leaks = []
    routes = every_route()
    for name, path in routes:
        if path.startswith(_OPEN):
            continue
        for method in ("GET", "POST"):
            response = client.generic(method, path)
            if path.startswith("/api/"):
                ok = response.status_code == 403 and response.json().get("code") == "otp_required"
            else:
                ok = response.status_code == 302 and response["Location"].startswith("/account/two-factor/")
            if not ok:
                leaks.append(f"{method} {path} ({name}) → {response.status_code}")
    assert not leaks, f"{role} without a second factor got through: {leaks}"
    assert len(routes) > 80
    assert _row_counts() == before


def test_artists_are_not_asked_for_a_second_factor(db, settings):
    world = build_world()
    settings.STAFF_2FA_REQUIRED = True
    client = APIClient()
    client.force_login(world.user("owner"))
    assert client.get("/studio/").status_code == 200
    assert client.get(reverse("studio:detail", kwargs={"job_id": world.job.pk})).status_code == 200
    assert client.get("/api/v1/generations/").status_code == 200
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": "owner@matrix.test", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize("role", ["moderator", "manager", "finance"])
def test_staff_get_no_token_with_the_password_alone(db, role, settings):
    world = build_world()
    settings.STAFF_2FA_REQUIRED = True
    before = ApiToken.objects.count()
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": world.user(role).email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "otp_required"
    _authenticator(world.user(role))
    wrong = APIClient().post(
        "/api/v1/auth/token/", {"email": world.user(role).email, "password": PASSWORD, "otp": "000000"}, format="json"
    )
    assert wrong.status_code == 403
    assert ApiToken.objects.count() == before


def test_a_staff_token_minted_with_a_current_code_acts_until_its_second_factor_goes_stale(db, settings):
    world = build_world()
    settings.STAFF_2FA_REQUIRED, settings.STAFF_TOKEN_2FA_HOURS = True, 12
    manager = world.user("manager")
    device = _authenticator(manager)
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"email": manager.email, "password": PASSWORD, "otp": _current_code(device)},
        format="json",
    )
    assert response.status_code == 201
    raw = response.json()["token"]
    assert bearer(raw).post(f"/api/v1/programs/{world.program.pk}/pause/", {}, format="json").status_code == 200
    ApiToken.objects.filter(prefix=raw.split("_")[1]).update(second_factor_at=timezone.now() - timedelta(hours=13))
    stale = bearer(raw).post(f"/api/v1/programs/{world.program.pk}/resume/", {}, format="json")
    assert stale.status_code == 401
    assert Program.objects.get(pk=world.program.pk).status == Program.Status.PAUSED


@pytest.mark.parametrize("role", ["moderator", "manager", "finance"])
def test_a_staff_token_minted_before_2fa_was_required_is_refused_once_it_is(db, role):
    world = build_world()
    _, raw = token_create(user=world.user(role), name="old")
    with override_settings(STAFF_2FA_REQUIRED=True):
        assert bearer(raw).get("/api/v1/me/").status_code == 401
        assert bearer(raw).post(f"/api/v1/programs/{world.program.pk}/pause/", {}, format="json").status_code == 401
    assert Program.objects.get(pk=world.program.pk).status == Program.Status.ACTIVE


def test_an_unverified_finance_session_cannot_start_a_payout_run_through_the_api(db, settings):
    world = build_world()
    settings.STAFF_2FA_REQUIRED = True
    client = APIClient()
    client.force_login(world.user("finance"))
    response = client.post("/api/v1/payout-runs/", {"period_end": "2026-01-31"}, format="json")
    assert response.status_code == 403 and response["Content-Type"].startswith("application/problem+json")
    assert PayoutRun.objects.count() == 0


def test_services_refuse_an_unverified_staff_member_whatever_the_entry_point(db, settings):
    """A script, a task or a forgotten view hands the service a bare user: fail closed."""
    world = build_world()
    settings.STAFF_2FA_REQUIRED = True
    manager = world.user("manager")
    with pytest.raises(SecondFactorRequired):
        program_set_paused(program=world.program, actor=manager, paused=True)
    assert Program.objects.get(pk=world.program.pk).status == Program.Status.ACTIVE
    manager.is_verified = lambda: True  # what django-otp marks on a verified session's user
    program_set_paused(program=world.program, actor=manager, paused=True)
    assert Program.objects.get(pk=world.program.pk).status == Program.Status.PAUSED


# --- per-program staff scope -------------------------------------------------------------


def test_a_manager_of_one_program_cannot_act_on_another(db):
    world = build_world()
    manager = world.user("manager")
    elsewhere = world.other_program
    stranger = UserFactory(email="stranger@matrix.test")
    enroll(stranger, elsewhere)
    before = _row_counts()
    client = APIClient()
    client.force_login(manager)
    assert client.post(f"/api/v1/programs/{elsewhere.pk}/pause/", {}, format="json").status_code == 404
    assert client.get(f"/api/v1/audit/?program={elsewhere.pk}").status_code == 404
    with pytest.raises(NotFound):
        invitation_create(program=elsewhere, email="new@matrix.test", invited_by=manager)
    with pytest.raises(NotFound):
        enrollment_suspend(enrollment=Enrollment.objects.get(artist=stranger), actor=manager, reason="no")
    assert _row_counts() == before


def test_flag_review_belongs_to_the_flags_program_managers(db):
    world = build_world()
    manager = world.user("manager")
    elsewhere = world.other_program
    stranger = UserFactory(email="stranger@matrix.test")
    enroll(stranger, elsewhere)
    artist_flag = AccessFlag.objects.create(
        kind=AccessFlag.Kind.ARTIST, artist=stranger, program=elsewhere, reason="flood"
    )
    with pytest.raises(NotFound):
        access_flag_review(flag=artist_flag, reviewer=manager, undo=True)
    # A token reaches every program of its artist: restoring it needs a manager of each.
    owner = world.user("owner")
    enroll(owner, elsewhere)
    token_flag = AccessFlag.objects.create(
        kind=AccessFlag.Kind.TOKEN, token=world.token, artist=owner, reason="replayed"
    )
    with pytest.raises(NotFound):
        access_flag_review(flag=token_flag, reviewer=manager, undo=True)
    assert AccessFlag.objects.filter(status=AccessFlag.Status.OPEN).count() == 2
    access_flag_review(flag=token_flag, reviewer=world.user("admin"), undo=True)
    assert AccessFlag.objects.get(pk=token_flag.pk).status == AccessFlag.Status.UNDONE


def test_nobody_reviews_a_flag_about_themself(db):
    world = build_world()
    manager = world.user("manager")
    enroll(manager, world.program)
    flag = AccessFlag.objects.create(kind=AccessFlag.Kind.ARTIST, artist=manager, program=world.program, reason="flood")
    with pytest.raises(SelfDealing):
        access_flag_review(flag=flag, reviewer=manager, undo=True)
    assert AccessFlag.objects.get(pk=flag.pk).status == AccessFlag.Status.OPEN


# --- no self-dealing ---------------------------------------------------------------------


@pytest.fixture
def moderating_artist(db):
    """A moderator of the program who is also one of its testers."""
    world = build_world()
    user = world.user("moderator")
    enroll(user, world.program)
    sign(user, world.program)
    job = make_output(user, world.program)
    share = share_request_create(artist=user, generation_id=job.pk, caption="Mine", destination="press")
    return world, user, share


def test_a_moderator_cannot_decide_their_own_share_request(moderating_artist):
    world, user, share = moderating_artist
    client = APIClient()
    client.force_login(user)
    response = client.post(f"/api/v1/share-requests/{share.pk}/decide/", {"decision": "approve"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "self_dealing"
    assert ShareRequest.objects.get(pk=share.pk).status == ShareRequest.Status.IN_REVIEW
    assert not LedgerEntry.objects.filter(artist=user).exists()  # no share bonus paid to oneself
    assert share_requests_bulk_approve(ids=[share.pk], moderator=user) == []
    assert ShareRequest.objects.get(pk=share.pk).status == ShareRequest.Status.IN_REVIEW
    decided = share_request_decide(share_request=share, moderator=world.user("manager"), decision="approve")
    assert decided.status == ShareRequest.Status.APPROVED


def test_a_moderator_cannot_decide_the_appeal_of_their_own_refusal(moderating_artist):
    world, user, share = moderating_artist
    share_request_decide(share_request=share, moderator=world.user("manager"), decision="reject", reason_code="safety")
    share_request_appeal(share_request=share, artist=user, note="Please look again")
    with pytest.raises(SelfDealing):
        share_appeal_decide(share_request=share, moderator=user, overturn=True)
    assert ShareRequest.objects.get(pk=share.pk).appeal_outcome in ("", None)


def test_each_step_of_a_two_step_review_needs_a_different_moderator(db):
    world = build_world()
    program = world.program
    ReviewStep.objects.create(program=program, position=1, kind=ReviewStep.Kind.MODERATORS, name="Quality")
    ReviewStep.objects.create(program=program, position=2, kind=ReviewStep.Kind.MODERATORS, name="Legal")
    job = make_output(world.user("owner"), program)
    share = share_request_create(
        artist=world.user("owner"), generation_id=job.pk, caption="Two steps", destination="press"
    )
    moderator = world.user("moderator")
    share = share_request_decide(share_request=share, moderator=moderator, decision="approve")
    assert share.status == ShareRequest.Status.IN_REVIEW and share.current_step == 2
    with pytest.raises(NotAllowed, match="another moderator"):
        share_request_decide(share_request=share, moderator=moderator, decision="approve")
    assert ShareRequest.objects.get(pk=share.pk).status == ShareRequest.Status.IN_REVIEW
    second = UserFactory(email="mod2@matrix.test", roles=["moderator"])
    add_staff(second, program, ProgramStaff.Role.MODERATOR)
    assert share_request_decide(share_request=share, moderator=second, decision="approve").status == "approved"


def test_a_moderator_cannot_review_their_own_feedback_or_time_through_the_api(moderating_artist):
    from payments.models import RateCard

    world, user, _share = moderating_artist
    RateCard.objects.create(
        program=world.program,
        version=1,
        hourly_rate_minor=2000,
        pay_floor_hourly_minor=1500,
        bounty_low_minor=500,
        published_at=timezone.now(),
    )
    client = APIClient()
    client.force_login(user)
    report = client.post(
        "/api/v1/feedback/",
        {"program": world.program.pk, "category": "bug", "severity": "low", "title": "Mine", "body": "A bug I found"},
        format="json",
    ).json()
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    entry = client.post(
        "/api/v1/time-entries/",
        {"program": world.program.pk, "date": yesterday, "minutes": 60, "description": "Testing"},
        format="json",
    ).json()
    for path in (f"/api/v1/feedback/{report['id']}/review/", f"/api/v1/time-entries/{entry['id']}/review/"):
        response = client.post(path, {"decision": "accept"}, format="json")
        assert response.status_code == 403 and response.json()["code"] == "self_dealing", path
    assert not LedgerEntry.objects.filter(artist=user).exists()
    assert FeedbackReport.objects.get(pk=report["id"]).status == "submitted"
    assert TimeEntry.objects.get(pk=entry["id"]).status == "submitted"
