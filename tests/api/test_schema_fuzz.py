"""Schemathesis against our own OpenAPI schema, in-process over WSGI, as a signed-in artist
with a bearer token: a bounded number of generated requests per operation; no answer may
be a 5xx, and every documented answer must match the schema."""
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tester_platform.api.services import token_create
from tests.factories import make_output

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 12


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


@pytest.fixture
def bearer(artist, program):
    make_output(artist, program)  # something real to read, share and derive from
    _, raw = token_create(user=artist, name="fuzz")
    return {"Authorization": f"Bearer {raw}"}


def test_no_server_errors_and_documented_answers_match_the_schema(api_schema, bearer, artist):
    from django.core.cache import cache

    failures, operations, statuses = {}, 0, {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        cache.clear()  # each operation starts under the rate limits

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case):
            headers = bearer
            if operation.method.upper() == "DELETE" and operation.path == "/api/v1/auth/token/":  # noqa: B023 (run at once, in this iteration)
                # Revoking must not revoke the token the rest of the run uses.
                headers = {"Authorization": f"Bearer {token_create(user=artist, name='throwaway')[1]}"}
            case.headers = {**(case.headers or {}), **headers}  # ours, not a generated one
            case.cookies = {}
            response = case.call()
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            exercise()
        except BaseException as error:  # noqa: B036 (an ExceptionGroup) collect every operation's first failure, then report all
            failures[f"{operation.method.upper()} {operation.path}"] = str(error).split("Schema:")[0][:800]
    print(f"{operations} operations, answers by status: {dict(sorted(statuses.items()))}")
    assert operations >= 20 and sum(statuses.values()) >= operations * 3
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
