"""The marketing licence, reachable: a program manager records in the staff console that an
output is used in marketing; the fee posts once, only for artists who opted in (refused
otherwise, and never for one's own output); the artist sees it; it is audited."""

from __future__ import annotations

import pytest

from payments.models import LedgerEntry
from tester_platform.audit.models import AuditEvent
from tester_platform.consent.services import consent_withdraw
from tester_platform.programs.models import ProgramStaff
from tests.factories import enroll, sign
from tests.labour.helpers import make_job

pytestmark = pytest.mark.django_db


def licences():
    return list(
        LedgerEntry.objects.filter(kind="marketing_licence").values_list("artist_id", "source_id", "amount_minor")
    )


def test_a_manager_records_marketing_use_of_an_opted_in_output_and_the_fee_posts_once(
    client, manager, artist, program, rate_card
):
    sign(artist, program, marketing_use=True)
    job = make_job(artist, program)
    client.force_login(manager)
    page = client.get("/dashboard/console/main/marketing/").content.decode()
    assert f'id="license-{job.pk}"' in page and "€20.00" in page
    for _ in range(2):  # a double click
        response = client.post("/dashboard/console/main/marketing/", {"generation": job.pk}, follow=True)
        assert response.status_code == 200
    assert licences() == [(artist.pk, str(job.pk), 2000)]
    assert "already licensed" in response.content.decode()
    assert "Licensed" in client.get("/dashboard/console/main/marketing/").content.decode()
    event = AuditEvent.objects.get(action="marketing.licensed")
    assert (event.actor_id, event.subject_id) == (manager.pk, artist.pk)

    client.force_login(artist)
    earnings = client.get("/labour/earnings/").content.decode()
    assert "Marketing licence" in earnings and f"Marketing use of generation #{job.pk}" in earnings


def test_an_output_of_an_artist_who_did_not_opt_in_is_refused(
    client, manager, artist, other_artist, program, rate_card
):
    job = make_job(artist, program)  # signed without the marketing opt-in
    client.force_login(manager)
    page = client.get("/dashboard/console/main/marketing/").content.decode()
    assert f'id="license-{job.pk}"' not in page and "has not opted in" in page
    response = client.post("/dashboard/console/main/marketing/", {"generation": job.pk}, follow=True)
    assert "has not opted in to marketing use" in response.content.decode() and licences() == []
    # An opt-in withdrawn (consent withdrawn) refuses it too.
    sign(other_artist, program, marketing_use=True)
    theirs = make_job(other_artist, program)
    consent_withdraw(artist=other_artist, program=program)
    client.post("/dashboard/console/main/marketing/", {"generation": theirs.pk})
    assert licences() == []
    for bad in ("", "abc", "99999999999999999999"):
        response = client.post("/dashboard/console/main/marketing/", {"generation": bad}, follow=True)
        assert response.status_code == 200 and licences() == []


def test_only_the_programs_managers_record_it_and_never_for_their_own_output(
    client, manager, moderator, artist, other_moderator, program, rate_card
):
    sign(artist, program, marketing_use=True)
    job = make_job(artist, program)
    client.force_login(moderator)
    assert client.post("/dashboard/console/main/marketing/", {"generation": job.pk}).status_code == 403
    client.force_login(other_moderator)
    assert client.post("/dashboard/console/main/marketing/", {"generation": job.pk}).status_code == 404
    assert licences() == []
    # A manager who also tests in the program cannot license their own output.
    enroll(manager, program)
    sign(manager, program, marketing_use=True)
    own = make_job(manager, program)
    client.force_login(manager)
    response = client.post("/dashboard/console/main/marketing/", {"generation": own.pk}, follow=True)
    assert "themself" in response.content.decode() and licences() == []
    assert ProgramStaff.objects.filter(user=manager, program=program).exists()
