"""Schemathesis against our own OpenAPI schema, in-process over WSGI, with ALL its checks
(no 5xx, status codes, content types, response schemas and headers as documented, bad
input refused, good input accepted, auth honoured...) over every operation, as an artist
and as each staff role with a bearer token; staff tokens are minted as staff must mint
them, with the password and a current authenticator code. A few generated requests per
operation keep it short; every operation's first failure is reported at once."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient
from schemathesis.checks import positive_data_acceptance

from tester_platform.api.services import token_create
from tests.access.matrix_world import build_world
from tests.factories import PASSWORD
from tests.finance.helpers import matrix_payout  # noqa: F401  (kept importable for a richer world)
from tests.labour.helpers import matrix_report, matrix_submitted_assignment, matrix_time

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 5
# Rules a JSON schema cannot state, by operation: the fields (or, for the whole request, the
# problem `code`) a 400 may name although the request matched the schema
# (positive_data_acceptance). Each is still a 400 problem naming what is at fault; anything
# else refused is a failure.
BEYOND_THE_SCHEMA = {
    # what a mode needs (a source, a still, shots, a length) and what the model can make
    "POST /api/v1/generations/": {
        "source_generation",
        "image",
        "shots",
        "duration_seconds",
        "prompt",
        "resolution",
        "strength",
        "preset",
        "keep_from_seconds",
        "keep_to_seconds",
    },
    # time is filed within 90 days of the work, not ahead of it, under the daily cap
    "POST /api/v1/time-entries/": {"date", "minutes"},
    # the file must decode as a PNG, JPEG or WebP still within the size limits
    "POST /api/v1/images/": {"image"},
    # a period runs forwards and spans at most ten years
    "GET /api/v1/payout-runs/period-report/csv/": {"end"},
    "GET /api/v1/payout-runs/period-report/pdf/": {"end"},
    # a run is made for a program that exists, for a period that has ended, and only when
    # someone is owed money up to then
    "POST /api/v1/payout-runs/": {"program", "period_end", "code:nothing_to_pay"},
}
ROLES = {"artist": "owner", "moderator": "moderator", "manager": "manager", "finance": "finance", "admin": "admin"}


@pytest.fixture
def api_schema(db):
    # As Django's test client does: the WSGI handler must not close the test transaction's
    # connection at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _staff_token(user) -> str:
    """Through the token endpoint, with a current TOTP code (staff 2FA is on for this test)."""
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):06d}"
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD, "otp": code}, format="json"
    )
    assert response.status_code == 201, response.content
    # Django's test client reconnected the signals the api_schema fixture took away.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    return response.json()["token"]


@pytest.mark.parametrize("role", list(ROLES))
def test_every_operation_passes_every_check(api_schema, role, settings):
    from django.core.cache import cache

    world = build_world()
    # something of each kind in the program for staff to find
    matrix_report(world), matrix_time(world), matrix_submitted_assignment(world)
    settings.STAFF_2FA_REQUIRED = True  # from here on, as in production
    user = world.user(ROLES[role])
    raw = token_create(user=user, name="fuzz")[1] if role == "artist" else _staff_token(user)
    bearer = {"Authorization": f"Bearer {raw}"}

    failures, operations, statuses = {}, 0, {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        cache.clear()  # each operation starts under the rate limits

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def exercise(case):
            headers = bearer
            name = f"{operation.method.upper()} {operation.path}"  # noqa: B023 (run at once, in this iteration)
            if name == "DELETE /api/v1/auth/token/":
                # Revoking must not revoke the token the rest of the run uses.
                throwaway = token_create(user=user, name="throwaway", second_factor=True)[1]
                headers = {"Authorization": f"Bearer {throwaway}"}
            case.headers = {**(case.headers or {}), **headers}  # ours, not a generated one
            case.cookies = {}
            response = case.call()
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            # every check schemathesis has; good data must be accepted unless a rule above refuses it
            case.validate_response(response, headers=case.headers, excluded_checks=[positive_data_acceptance])
            try:
                case.validate_response(response, headers=case.headers, checks=[positive_data_acceptance])
            except BaseException:  # noqa: B036 (an ExceptionGroup)
                problem = response.json() if response.status_code == 400 else {}
                fields = {name.split(".")[0] for name in problem.get("errors", {})} or {f"code:{problem.get('code')}"}
                if not fields <= BEYOND_THE_SCHEMA.get(name, set()):
                    raise

        try:
            exercise()
        except BaseException as error:  # noqa: B036 (an ExceptionGroup) collect every operation's first failure, then report all
            failures[f"{operation.method.upper()} {operation.path}"] = str(error).split("Schema:")[0][:1200]
    print(f"{role}: {operations} operations, answers by status: {dict(sorted(statuses.items()))}")
    assert operations >= 60 and sum(statuses.values()) >= operations * 3
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(
        f"{k}:\n{v}" for k, v in failures.items()
    )
