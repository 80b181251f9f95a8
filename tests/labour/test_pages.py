"""The artist's labour pages and the moderators' review queue (server-rendered, htmx)."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from payments.ledger import payout_post
from payments.models import LedgerEntry
from tester_platform.labour.models import FeedbackReport, TimeEntry
from tester_platform.labour.services import feedback_review, time_entry_review
from tests.labour.helpers import make_job, rows

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_pages_need_sign_in(client):
    for url in ("/labour/earnings/", "/labour/feedback/new/", "/labour/time/", "/dashboard/labour/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_artist_files_a_report_from_the_portal(client, artist, program, rate_card):
    job = make_job(artist, program)
    client.force_login(artist)
    page = client.get(f"/labour/feedback/new/?generation={job.pk}")
    assert page.status_code == 200
    assert b"Critical" in page.content and b"\xe2\x82\xac50.00" in page.content  # the bounty table (€50.00)
    response = client.post(
        "/labour/feedback/new/",
        {
            "program": program.pk,
            "generation": job.pk,
            "category": "safety",
            "severity": "critical",
            "title": "Unsafe output",
            "body": "It made a weapon.",
        },
    )
    report = FeedbackReport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/labour/feedback/{report.pk}/"
    assert report.generation == job and report.severity == "critical"
    detail = client.get(response["Location"])
    assert b"Waiting for review" in detail.content


def test_a_bad_report_form_shows_field_errors_and_writes_nothing(client, artist, program, rate_card):
    client.force_login(artist)
    before = rows()
    response = client.post(
        "/labour/feedback/new/", {"program": program.pk, "category": "bug", "severity": "low", "title": "", "body": "x"}
    )
    assert response.status_code == 400 and b"This field is required" in response.content
    assert rows() == before


def test_the_artist_files_time_with_the_proposal_shown(client, artist, program, rate_card):
    start = timezone.now() - dt.timedelta(hours=2)
    job = make_job(artist, program, created_at=start, finished_at=start + dt.timedelta(minutes=1))
    client.force_login(artist)
    page = client.get("/labour/time/new/").content.decode()
    assert "Proposed from your activity" in page and "File 15 min" in page
    day = start.date().isoformat()
    assert f"date={day}&amp;minutes=15&amp;generations={job.pk}" in page
    prefilled = client.get(f"/labour/time/new/?program={program.pk}&date={day}&minutes=15&generations={job.pk}")
    assert b'value="15"' in prefilled.content
    response = client.post(
        "/labour/time/new/",
        {
            "program": program.pk,
            "date": day,
            "minutes": 15,
            "description": "Tested motion prompts",
            "generations": [job.pk],
        },
    )
    entry = TimeEntry.objects.get()
    assert response.status_code == 302 and entry.minutes == 15 and list(entry.generations.all()) == [job]
    assert "filed" in client.get("/labour/time/").content.decode()


@pytest.mark.parametrize(
    "minutes,date,message",
    [
        (-5, None, "positive number of minutes"),
        (1441, None, "24 hours"),
        (30, timezone.localdate() + dt.timedelta(days=2), "has not happened yet"),
    ],
)
def test_bad_time_forms_show_the_reason_and_write_nothing(client, artist, program, rate_card, minutes, date, message):
    client.force_login(artist)
    before = rows()
    response = client.post(
        "/labour/time/new/",
        {
            "program": program.pk,
            "date": (date or timezone.localdate()).isoformat(),
            "minutes": minutes,
            "description": "x",
        },
    )
    assert response.status_code == 400 and message in response.content.decode()
    assert rows() == before


def test_other_artists_items_are_404_on_the_portal(client, other_artist, report, time_entry):
    client.force_login(other_artist)
    assert client.get(f"/labour/feedback/{report.pk}/").status_code == 404
    assert client.get(f"/labour/time/{time_entry.pk}/").status_code == 404


def test_the_earnings_page_shows_balance_lines_sources_rates_and_a_chart(
    client, artist, program, moderator, report, time_entry
):
    feedback_review(report=report, reviewer=moderator, decision="accept")
    time_entry_review(entry=time_entry, reviewer=moderator, decision="accept")
    payout_post(artist=artist, program_id=program.pk, amount_minor=2000, currency="EUR", source=("payments.payout", 3))
    client.force_login(artist)
    page = client.get("/labour/earnings/").content.decode()
    assert 'data-earned="6250" data-unpaid="4250" data-paid="2000"' in page
    assert "€62.50" in page and "€42.50" in page and "€20.00" in page
    assert f'href="/labour/feedback/{report.pk}/"' in page and f'href="/labour/time/{time_entry.pk}/"' in page
    assert "€25.00/h × 90 min (rate card v1)" in page and "€25.00 each (rate card v1)" in page
    assert page.count("data-entry=") == 3
    assert '<svg viewBox="0 0 720 240"' in page and 'role="img"' in page and "<rect" in page
    assert "style=" not in page and "<script>" not in page  # CSP: no inline styles or scripts


def test_the_earnings_csv_has_every_line(client, artist, program, moderator, report):
    FeedbackReport.objects.filter(pk=report.pk).update(title='=HYPERLINK("http://evil")')
    report.refresh_from_db()
    feedback_review(report=report, reviewer=moderator, decision="accept")
    client.force_login(artist)
    response = client.get("/labour/earnings.csv")
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(table) == LedgerEntry.objects.filter(artist=artist).count() == 1
    assert table[0]["amount_minor"] == "2500" and table[0]["kind"] == "feedback_bounty"
    assert table[0]["rate"] == "€25.00 each (rate card v1)"
    assert not table[0]["source"].startswith("=")  # no formula injection through a report title


# --- the moderation dashboard ---------------------------------------------------------------


def test_the_queue_is_for_reviewers_of_each_program(client, artist, moderator, other_moderator, report, time_entry):
    client.force_login(artist)
    assert client.get("/dashboard/labour/").status_code == 403
    client.force_login(other_moderator)
    page = client.get("/dashboard/labour/").content.decode()
    assert report.title not in page and f'data-time="{time_entry.pk}"' not in page
    response = client.post(f"/dashboard/labour/feedback/{report.pk}/review/", {"decision": "accept"})
    assert response.status_code == 404
    client.force_login(moderator)
    page = client.get("/dashboard/labour/").content.decode()
    assert report.title in page and f'data-time="{time_entry.pk}"' in page and "€25.00" in page
    assert 'hx-post="/dashboard/labour/feedback/' in page and "js/labour.js" in page


def test_inline_accept_with_htmx_returns_the_updated_row_and_a_second_click_is_409(client, moderator, report):
    client.force_login(moderator)
    url = f"/dashboard/labour/feedback/{report.pk}/review/"
    response = client.post(url, {"decision": "accept"}, **HTMX)
    assert response.status_code == 200
    row = response.content.decode()
    assert row.strip().startswith(f'<tr id="feedback-{report.pk}"') and 'data-status="accepted"' in row
    again = client.post(url, {"decision": "accept"}, **HTMX)
    assert again.status_code == 409 and "already reviewed" in again.content.decode()
    assert LedgerEntry.objects.count() == 1


def test_inline_reject_without_reason_keeps_the_form_with_the_message(client, moderator, time_entry):
    client.force_login(moderator)
    url = f"/dashboard/labour/time/{time_entry.pk}/review/"
    response = client.post(url, {"decision": "reject"}, **HTMX)
    assert response.status_code == 400 and "reason" in response.content.decode()
    assert 'data-status="submitted"' in response.content.decode()
    done = client.post(url, {"decision": "reject", "reason": "Outside the program's scope"})
    assert done.status_code == 302
    assert TimeEntry.objects.get().status == "rejected"


def test_bulk_accept_from_the_queue(client, moderator, report, time_entry):
    client.force_login(moderator)
    response = client.post(
        "/dashboard/labour/bulk-accept/",
        {"feedback": [report.pk], "time": [time_entry.pk], "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == "/dashboard/labour/"
    assert sorted(LedgerEntry.objects.values_list("amount_minor", flat=True)) == [2500, 3750]
    page = client.get("/dashboard/labour/").content.decode()
    assert "Accepted 2 items" in page and "No report is waiting" in page


def test_bulk_accept_ignores_items_of_programs_one_does_not_review(client, other_moderator, report):
    client.force_login(other_moderator)
    client.post("/dashboard/labour/bulk-accept/", {"feedback": [report.pk]})
    assert FeedbackReport.objects.get().status == "submitted"


def test_managers_mark_accepted_reports_acted_on_from_the_queue(client, moderator, manager, artist, report):
    feedback_review(report=report, reviewer=moderator, decision="accept")
    client.force_login(manager)
    assert "Mark acted on" in client.get("/dashboard/labour/").content.decode()
    client.post(f"/dashboard/labour/feedback/{report.pk}/acted-on/", {"note": "Retrained the hands."})
    client.force_login(artist)
    page = client.get(f"/labour/feedback/{report.pk}/").content.decode()
    assert "The program acted on this report" in page and "Retrained the hands." in page


def test_the_queue_uses_a_bounded_number_of_queries(
    client, moderator, artist, program, rate_card, django_assert_max_num_queries
):
    from tester_platform.labour.services import feedback_submit, time_entry_submit

    for n in range(5):
        feedback_submit(artist=artist, program=program, category="bug", severity="low", title=f"r{n}", body="b")
        time_entry_submit(
            artist=artist,
            program=program,
            date=timezone.localdate() - dt.timedelta(days=n + 1),
            minutes=30,
            description="d",
        )
    client.force_login(moderator)
    with django_assert_max_num_queries(25):
        assert client.get("/dashboard/labour/").status_code == 200
