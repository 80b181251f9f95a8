"""Every API error is problem details (RFC 9457, application/problem+json): malformed
input is a 4xx, our faults are a 5xx that says nothing about the cause, and nothing under
/api/ is ever an HTML page; the portal keeps its own pages."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import HttpResponse
from django.test import override_settings
from django.urls import include, path
from rest_framework.test import APIClient
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from generation.models import GenerationJob
from tester_platform.api.problems import describe
from tester_platform.errors import domain_error_classes
from tester_platform.portal import api as portal_api
from tests.conftest import api_as

PROBLEM = "application/problem+json"
RFC_MEMBERS = {"type", "title", "status", "detail", "code", "errors"}


def assert_problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == PROBLEM, response["Content-Type"]
    body = response.json()
    assert set(body) >= RFC_MEMBERS, body
    assert body["status"] == status and body["type"] == "about:blank"
    assert isinstance(body["title"], str) and body["title"] and isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], dict)
    if code is not None:
        assert body["code"] == code, body
    return body


def submit(client, program, headers=None, **overrides):
    payload = {
        "program": program.pk,
        "mode": "text_to_video",
        "prompt": "a lighthouse at dusk",
        "duration_seconds": 1,
        "aspect_ratio": "16:9",
        "resolution": "preview",
        **overrides,
    }
    return client.post("/api/v1/generations/", payload, format="json", **(headers or {}))


# --- the four malformed inputs ---------------------------------------------------------


def test_a_prompt_of_100000_nested_brackets_is_a_400_too_deep(artist, program):
    body = f'{{"program": {program.pk}, "prompt": {"[" * 100_000}{"]" * 100_000}}}'
    response = api_as(artist).generic("POST", "/api/v1/generations/", body, content_type="application/json")
    problem = assert_problem(response, 400, "too_deep")
    assert "JSON" in problem["detail"]
    assert GenerationJob.objects.count() == 0


def test_nesting_under_the_recursion_limit_but_over_ours_is_refused_too(artist, program):
    body = f'{{"program": {program.pk}, "prompt": {"[" * 40}{"]" * 40}}}'
    response = api_as(artist).generic("POST", "/api/v1/generations/", body, content_type="application/json")
    assert_problem(response, 400, "too_deep")


def test_a_3_mb_body_is_a_413(artist, program):
    body = json.dumps({"program": program.pk, "prompt": "x" * (3 * 1024 * 1024)})
    response = api_as(artist).generic("POST", "/api/v1/generations/", body, content_type="application/json")
    problem = assert_problem(response, 413, "too_large")
    assert "bytes" in problem["detail"]
    assert GenerationJob.objects.count() == 0


def test_a_body_found_too_large_while_reading_is_a_413_too(artist, program, monkeypatch):
    """No Content-Length to refuse on (chunked): Django raises while reading."""

    def too_big(**kwargs):
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")

    monkeypatch.setattr("tester_platform.studio.api.generation_submit", too_big)
    assert_problem(submit(api_as(artist), program), 413, "too_large")


def test_overflowing_usage_dates_are_a_400_with_a_field_error(artist, program):
    response = api_as(artist).get("/api/v1/usage/?from=0001-01-01&to=9999-12-31")
    problem = assert_problem(response, 400, "invalid")
    assert list(problem["errors"]) == ["to"] and problem["errors"]["to"][0].startswith("Enter a date before")
    assert problem["to"] == problem["errors"]["to"]  # the earlier shape, kept for now


def test_the_widest_usable_dates_still_answer(artist, program):
    assert api_as(artist).get("/api/v1/usage/?from=0001-01-01&to=9999-12-30").status_code == 200


def test_a_dropped_database_connection_during_submit_is_a_503_with_retry_after(artist, program, monkeypatch):
    def dropped(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("tester_platform.studio.api.generation_submit", dropped)
    response = submit(api_as(artist), program)
    problem = assert_problem(response, 503, "database_unavailable")
    assert int(response["Retry-After"]) > 0
    assert "server closed" not in problem["detail"]


# --- our faults ----------------------------------------------------------------------------


def test_an_unexpected_exception_is_a_logged_500_problem_with_the_request_id(artist, program, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("secret internals: postgres://admin:hunter2@db")

    monkeypatch.setattr("tester_platform.studio.api.generation_submit", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(artist)
    with caplog.at_level(logging.ERROR, logger="tester_platform.api"):
        response = submit(client, program, headers={"HTTP_X_REQUEST_ID": "req-0123456789abcdef"})
    problem = assert_problem(response, 500, "internal_error")
    assert b"hunter2" not in response.content and b"RuntimeError" not in response.content
    assert problem["request_id"] == "req-0123456789abcdef" == response["X-Request-ID"]
    logged = [r for r in caplog.records if r.name == "tester_platform.api"]
    assert logged and logged[0].request_id == "req-0123456789abcdef" and logged[0].exc_info
    assert "req-0123456789abcdef" in logged[0].getMessage()


def test_the_test_client_still_raises_an_unexpected_exception(artist, program, monkeypatch):
    """The handler answers and also tells Django's listeners, so tests see the traceback."""

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("tester_platform.studio.api.generation_submit", broken)
    with pytest.raises(RuntimeError, match="boom"):
        submit(api_as(artist), program)


# --- outside DRF's views --------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/no-such-thing/", "/api/nothing", "/api/v1/generations/not-a-number/"])
def test_an_unknown_api_url_is_a_404_problem(client, db, url):
    problem = assert_problem(client.get(url), 404, "not_found")
    assert "urlpatterns" not in json.dumps(problem)  # never the resolver's list of patterns


def test_an_unknown_portal_url_keeps_the_site_404_page(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert b"Not found" in response.content and b"site-header" in response.content


def boom(request):
    raise RuntimeError("secret internals")


class BoomApiView(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        raise RuntimeError("secret internals")


def plain_400(request):
    return HttpResponse("<h1>Bad</h1>", status=400)


# A URLconf for these tests: the project's, plus views that fail (portal, plain Django
# under /api/, DRF) and the project's error handlers.
urlpatterns = [
    path("boom/", boom),
    path("api/v1/test-boom/", boom),
    path("api/v1/test-drf-boom/", BoomApiView.as_view()),
    path("api/v1/test-html-400/", plain_400),
    path("", include("tester_platform.urls")),
]
handler404 = "tester_platform.api.problems.page_not_found"
handler500 = "tester_platform.api.problems.server_error"


@pytest.fixture
def quiet_client(db):
    from django.test import Client

    with override_settings(ROOT_URLCONF=__name__):
        yield Client(raise_request_exception=False)


def test_a_portal_500_is_the_site_500_page_without_a_database_query(quiet_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = quiet_client.get("/boom/")
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")
    assert b"Something went wrong" in response.content and b"site-header" in response.content
    assert b"secret internals" not in response.content


@pytest.mark.parametrize("url", ["/api/v1/test-boom/", "/api/v1/test-drf-boom/"])
def test_a_500_under_api_is_a_problem_from_any_view(quiet_client, url):
    response = quiet_client.get(url)
    assert_problem(response, 500, "internal_error")
    assert b"secret internals" not in response.content


@override_settings(DEBUG=True)
def test_under_debug_too_the_api_never_answers_html(quiet_client):
    assert_problem(quiet_client.get("/api/v1/no-such-thing/"), 404)
    assert_problem(quiet_client.get("/api/v1/test-boom/"), 500)


def test_an_html_error_from_another_layer_becomes_a_problem(quiet_client):
    assert_problem(quiet_client.get("/api/v1/test-html-400/"), 400, "bad_request")


# --- every kind of API error carries the RFC members ---------------------------------------


class AlwaysThrottled(BaseThrottle):
    def allow_request(self, request, view):
        return False

    def wait(self):
        return 7


def test_unauthenticated_is_401_and_keeps_www_authenticate(db):
    response = APIClient().get("/api/v1/me/")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_token_is_401_authentication_failed(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer atl_deadbeef_forged")
    assert_problem(client.get("/api/v1/me/"), 401, "authentication_failed")


def test_throttled_is_429_with_retry_after(artist, monkeypatch):
    monkeypatch.setattr(portal_api.MeView, "throttle_classes", [AlwaysThrottled])
    response = api_as(artist).get("/api/v1/me/")
    assert_problem(response, 429, "throttled")
    assert response["Retry-After"] == "7"


def test_validation_errors_are_listed_per_field_and_at_the_top_level(artist, program):
    response = api_as(artist).post(
        "/api/v1/consent/", {"program": "one", "document_version": 1, "participation": True}, format="json"
    )
    problem = assert_problem(response, 400, "invalid")
    assert "program" in problem["errors"] and problem["program"] == problem["errors"]["program"]
    assert problem["detail"].startswith("program: ")


def test_a_domain_error_with_a_field_keeps_its_code_and_field(artist, program):
    from tests.factories import ConsentDocumentFactory

    ConsentDocumentFactory(program=program, version=2)
    response = api_as(artist).post(
        "/api/v1/consent/", {"program": program.pk, "document_version": 1, "participation": True}, format="json"
    )
    problem = assert_problem(response, 400)
    assert "not the current" in problem["errors"]["document_version"][0]
    assert problem["document_version"] == problem["errors"]["document_version"]


def test_an_earlier_shape_json_error_from_a_view_is_reshaped(outsider, program):
    problem = assert_problem(submit(api_as(outsider), program), 403, "not_enrolled")
    assert problem["errors"] == {"program": ["You are not enrolled in this program."]}
    assert problem["program"] == problem["errors"]["program"]


@pytest.mark.parametrize(
    "request_kwargs,status",
    [
        ({"method": "DELETE", "path": "/api/v1/me/"}, 405),
        ({"method": "POST", "path": "/api/v1/consent/", "data": "x=1", "content_type": "text/plain"}, 415),
        ({"method": "POST", "path": "/api/v1/consent/", "data": "{nope", "content_type": "application/json"}, 400),
        ({"method": "GET", "path": "/api/v1/generations/999999/"}, 404),
        ({"method": "GET", "path": "/api/v1/me/", "HTTP_ACCEPT": "text/html"}, 406),
    ],
)
def test_every_drf_error_is_a_problem(artist, request_kwargs, status):
    kwargs = dict(request_kwargs)
    response = api_as(artist).generic(kwargs.pop("method"), kwargs.pop("path"), kwargs.pop("data", ""), **kwargs)
    assert_problem(response, status)
    if status == 405:
        assert "GET" in response["Allow"]


def test_a_permission_error_is_a_403_problem(artist, program):
    response = api_as(artist).post(f"/api/v1/programs/{program.pk}/pause/", format="json")
    assert "managers" in assert_problem(response, 403)["detail"]


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _domain_error_classes():
    import generation.errors  # noqa: F401
    import payments.errors  # noqa: F401
    import tester_platform.errors  # noqa: F401

    found = []
    for base in domain_error_classes():
        found += [base, *_all_subclasses(base)]
    return found


@pytest.mark.parametrize("error_class", _domain_error_classes(), ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_domain_error_family_answers_its_http_status(rf, error_class):
    def make(message, field=None):  # past each class's own constructor (some take other arguments)
        exc = error_class.__new__(error_class)
        Exception.__init__(exc, message)
        exc.message, exc.field = message, field
        return exc

    request = rf.post("/api/v1/anything/")
    body, status, _ = describe(make("It cannot be done."), request)
    assert status == error_class.http_status == body["status"]
    assert body["detail"] == "It cannot be done." and body["code"] and body["errors"] == {}
    body, _, _ = describe(make("Pick another.", field="program"), request)
    assert body["errors"] == {"program": ["Pick another."]} == {"program": body["program"]}
