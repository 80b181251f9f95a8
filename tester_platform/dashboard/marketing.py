"""The staff console's marketing page: a program manager records that one of the program's
outputs is used in its marketing. The licence fee posts to the artist's ledger once, only
for an artist whose marketing opt-in is in force (refused otherwise), and is audited; the
artist sees the line on their earnings page and in their next statement.

Its own module beside console.py; its views are console views like the others (program in
the URL, the one policy, the service that checks it again)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect

from generation.models import GenerationJob
from payments.models import LedgerEntry
from payments.selectors import current_rate_card, entries_for_sources
from tester_platform.common.handlers import errors_as_message
from tester_platform.consent.models import ConsentRecord
from tester_platform.consent.services import current_document
from tester_platform.dashboard.console import _page, console_view
from tester_platform.labour.services import marketing_licence_post
from tester_platform.programs.models import Program

SHOWN = 50


def _opted_in(program: Program, artist_ids: set[int]) -> set[int]:
    """The artists whose consent in force (the newest record, a grant of the current
    version) includes marketing use: one query for the page."""
    document = current_document(program=program)
    if document is None or not artist_ids:
        return set()
    newest: dict[int, ConsentRecord] = {}
    for record in ConsentRecord.objects.filter(program=program, artist_id__in=artist_ids).order_by(
        "artist_id", "-signed_at", "-id"
    ):
        newest.setdefault(record.artist_id, record)
    return {
        artist_id
        for artist_id, record in newest.items()
        if record.kind == ConsentRecord.Kind.GRANT
        and record.participation
        and record.document_id == document.pk
        and record.marketing_use
    }


@console_view()
def marketing(request, program: Program):
    if request.method == "POST":
        raw = (request.POST.get("generation") or "").strip()
        if not raw.isdigit() or len(raw) > 18:
            messages.error(request, "Give the number of one of the program's outputs.")
            return redirect("dashboard:console_marketing", slug=program.slug)
        with errors_as_message(request):
            entry = marketing_licence_post(generation_id=int(raw), actor=request.user, program=program)
            if entry.created:
                messages.success(
                    request,
                    f"Output #{raw} recorded as used in marketing: "
                    f"{entry.amount_display} posted to the artist's earnings.",
                )
            else:
                messages.info(
                    request, f"Output #{raw} was already licensed ({entry.amount_display}); nothing posted twice."
                )
        return redirect("dashboard:console_marketing", slug=program.slug)
    jobs = list(
        GenerationJob.objects.filter(program=program, status=GenerationJob.Status.SUCCEEDED)
        .select_related("artist")
        .order_by("-created_at", "-pk")[:SHOWN]
    )
    opted_in = _opted_in(program, {job.artist_id for job in jobs})
    licensed = {
        source_id: entries
        for source_id, entries in entries_for_sources(
            source_type="generation.generationjob", source_ids=[job.pk for job in jobs]
        ).items()
    }
    for job in jobs:
        job.opted_in = job.artist_id in opted_in
        job.licence = next(
            (e for e in licensed.get(str(job.pk), []) if e.kind == LedgerEntry.Kind.MARKETING_LICENCE), None
        )
    return _page(
        request,
        program,
        "marketing.html",
        "marketing",
        {
            "jobs": jobs,
            "card": current_rate_card(program_id=program.pk),
        },
    )
