"""One error protocol (issue 17, item 5). The platform's DomainError and the engines'
GenerationError and PaymentsError share one shape (code, message, field, http_status), and
one view-side handler answers each of them: on a page with the message and the error's own
4xx (a form field, a message on the next page, or the error page; never a 500), in the API
as problem details with the code and the field."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from django.utils.html import escape

import generation
import payments
import tester_platform
from generation.errors import GenerationError, InvalidParameters, QuotaExceeded
from payments.errors import GatewayError, LedgerConflict, PaymentsError
from tester_platform.errors import Conflict, DomainError, NotAllowed
from tester_platform.sharing.models import ShareRequest
from tester_platform.sharing.services import share_request_create
from tests.conftest import api_as
from tests.factories import make_output

FAMILIES = (DomainError, GenerationError, PaymentsError)


def _all_subclasses(base: type) -> set[type]:
    found, todo = set(), [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def _import_everything() -> None:
    """Error classes are declared all over (services, models, policy): import every module
    of the product and the engines so that none is missed."""
    for package in (tester_platform, generation, payments):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations." in info.name or info.name.endswith((".tests", ".__main__")):
                continue
            try:
                importlib.import_module(info.name)
            except ImportError:  # an optional backend (a GPU-only module): it declares no service error
                continue


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_every_service_error_class_has_the_one_shape(family):
    _import_everything()
    classes = {family} | _all_subclasses(family)
    assert len(classes) > 3
    for cls in classes:
        assert isinstance(cls.code, str) and cls.code and cls.code == cls.code.lower(), cls
        assert 400 <= cls.http_status <= 599, cls
        assert "field" in dir(cls), cls


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_each_family_takes_message_field_and_code_the_same_way(family):
    error = family("The still is too large.", field="image", code="too_large")
    assert (error.message, error.field, error.code, str(error)) == (
        "The still is too large.",
        "image",
        "too_large",
        "The still is too large.",
    )
    plain = family("Nope.")
    assert plain.field is None and plain.code == family.code


# --- pages -----------------------------------------------------------------------------------

ONE_OF_EACH = [
    pytest.param(Conflict("Your consent changed meanwhile."), 409, id="DomainError"),
    pytest.param(QuotaExceeded("Today's compute is used up."), 429, id="GenerationError"),
    pytest.param(GatewayError("Stripe is not answering."), 502, id="PaymentsError"),
]


@pytest.mark.parametrize("error,status", ONE_OF_EACH)
def test_an_error_that_escapes_a_page_is_the_error_page_with_its_status(
    client, artist, program, monkeypatch, error, status
):
    def refuse(**kwargs):
        raise error

    monkeypatch.setattr("tester_platform.portal.views.consent_withdraw", refuse)
    client.force_login(artist)
    response = client.post(f"/programs/{program.slug}/consent/withdraw/")
    assert response.status_code == status
    html = response.content.decode()
    assert escape(error.message) in html and "Nothing to withdraw" in html  # the view's declared title
    assert "text/html" in response["Content-Type"]


@pytest.mark.parametrize("error,status", ONE_OF_EACH)
def test_an_error_on_a_form_goes_to_its_field_with_its_status(client, artist, program, monkeypatch, error, status):
    program.status = program.Status.RECRUITING
    program.save()

    def refuse(**kwargs):
        error.field = "portfolio_url"
        raise error

    monkeypatch.setattr("tester_platform.portal.views.application_submit", refuse)
    client.force_login(artist)
    response = client.post(
        f"/programs/{program.slug}/apply/", {"portfolio_url": "https://example.com/me", "statement": "I test things."}
    )
    assert response.status_code == status
    assert response.context["form"].errors == {"portfolio_url": [error.message]}


@pytest.mark.parametrize("error,status", ONE_OF_EACH)
def test_an_error_on_an_action_is_a_message_on_the_next_page(client, artist, program, monkeypatch, error, status):
    share = share_request_create(
        artist=artist, generation_id=make_output(artist, program).pk, caption="Kite", destination="press"
    )

    def refuse(**kwargs):
        raise error

    monkeypatch.setattr("tester_platform.sharing.views.share_request_withdraw", refuse)
    client.force_login(artist)
    response = client.post(f"/sharing/{share.pk}/withdraw/", follow=True)
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [error.message]
    assert ShareRequest.objects.get(pk=share.pk).status == share.status


def test_a_not_found_from_a_service_is_a_404_page_not_a_form_error(client, artist, program, monkeypatch):
    from tester_platform.errors import NotFound

    def refuse(**kwargs):
        raise NotFound("No such program.")

    program.status = program.Status.RECRUITING
    program.save()
    monkeypatch.setattr("tester_platform.portal.views.application_submit", refuse)
    client.force_login(artist)
    response = client.post(
        f"/programs/{program.slug}/apply/", {"portfolio_url": "https://example.com/me", "statement": "I test things."}
    )
    assert response.status_code == 404 and b"No such program." in response.content


def test_a_payments_error_during_a_moderation_decision_is_a_clear_4xx(client, artist, moderator, program, monkeypatch):
    """Approving a share posts its bonus to the ledger (the payments engine). A ledger that
    refuses the posting used to escape the moderator's page as a 500 (the page caught only
    the platform's DomainError)."""
    share = share_request_create(
        artist=artist, generation_id=make_output(artist, program).pk, caption="Kite", destination="press"
    )

    def refuse(**kwargs):
        raise LedgerConflict("This share's bonus was already posted with other terms.")

    monkeypatch.setattr("tester_platform.sharing.payments.post_share_bonus", refuse)
    client.force_login(moderator)
    response = client.post(f"/dashboard/sharing/{share.pk}/", {"decision": "approve"})
    assert response.status_code == 409
    assert escape("This share's bonus was already posted with other terms.") in response.content.decode()
    share.refresh_from_db()
    assert share.status == ShareRequest.Status.IN_REVIEW and share.decided_by is None  # nothing half-decided


# --- the API ---------------------------------------------------------------------------------

API_ONE_OF_EACH = [
    pytest.param(
        NotAllowed("Generation is paused for you.", field="program", code="suspended"),
        403,
        "suspended",
        "program",
        id="DomainError",
    ),
    pytest.param(
        InvalidParameters("Too long for this program.", field="duration_seconds"),
        400,
        "invalid_parameters",
        "duration_seconds",
        id="GenerationError",
    ),
    pytest.param(LedgerConflict("Already posted."), 409, "ledger_conflict", None, id="PaymentsError"),
]


@pytest.mark.parametrize("error,status,code,field", API_ONE_OF_EACH)
def test_the_api_answers_each_family_as_problem_details(artist, program, monkeypatch, error, status, code, field):
    def refuse(**kwargs):
        raise error

    monkeypatch.setattr("tester_platform.studio.api.generation_submit", refuse)
    response = api_as(artist).post(
        "/api/v1/generations/",
        {"program": program.pk, "mode": "text_to_video", "prompt": "a kite", "duration_seconds": 2},
        format="json",
    )
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"], body["detail"]) == (status, code, error.message)
    assert body["errors"] == ({field: [error.message]} if field else {})
