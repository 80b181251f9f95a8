"""Payout reports: per run and per period, totals by program, by artist and by earning
kind, and the metered compute (GPU seconds) beside the labour paid per program. Composed
here from the engines' selectors (payments for money, generation for compute): neither
engine knows about the other. Money stays integer minor units; only display is text."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Sum

from generation.selectors import usage_records
from payments.models import LedgerEntry, Payout, PayoutRun
from payments.money import format_minor
from payments.selectors import (
    payout_totals_by_status,
    period_ledger_by_kind,
    period_payout_lines,
    run_composition_by_kind,
    run_lines_by_program,
)
from tester_platform.accounts.models import User
from tester_platform.common.days import days_bounds, local_day
from tester_platform.programs.models import Program

KIND_LABELS = dict(LedgerEntry.Kind.choices)
PAID_STATUSES = Payout.PAID_OUT  # sent, in transit, arrived, bank failed: the money left the platform


def _money(amount: int, currency: str) -> str:
    return format_minor(int(amount or 0), currency)


@dataclass
class Report:
    title: str
    subtitle: str
    currency: str
    run: PayoutRun | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    by_status: list[dict] = field(default_factory=list)
    by_program: list[dict] = field(default_factory=list)
    by_artist: list[dict] = field(default_factory=list)
    by_kind: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    charts: list[dict] = field(default_factory=list)


# --- charts (inline SVG geometry, integer pixels) ---------------------------------------------

CHART_WIDTH, ROW_HEIGHT, LABEL_WIDTH, VALUE_WIDTH = 720, 28, 220, 140


def bar_chart(*, chart_id: str, title: str, rows: list[tuple[str, int, str]]) -> dict:
    """Horizontal bars: rows of (label, value >= 0, value as text)."""
    peak = max([value for _, value, _ in rows] + [1])
    plot = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = []
    for index, (label, value, display) in enumerate(rows):
        width = max(0, value) * plot // peak
        y = 8 + index * ROW_HEIGHT
        bars.append(
            {
                "label": label,
                "display": display,
                "x": LABEL_WIDTH,
                "y": y,
                "width": width,
                "height": ROW_HEIGHT - 8,
                "text_y": y + ROW_HEIGHT // 2 + 1,
                "value_x": LABEL_WIDTH + width + 8,
            }
        )
    return {
        "id": chart_id,
        "title": title,
        "bars": bars,
        "width": CHART_WIDTH,
        "height": 16 + max(1, len(rows)) * ROW_HEIGHT,
        "label_x": LABEL_WIDTH - 8,
    }


# --- run report ---------------------------------------------------------------------------------


def _previous_period_end(run: PayoutRun) -> dt.datetime | None:
    previous = (
        PayoutRun.objects.filter(program_id=run.program_id, period_end__lt=run.period_end)
        .order_by("-period_end")
        .first()
    )
    return previous.as_of if previous else None


def _gpu_seconds_by_program(*, start, end, program_ids=None) -> dict[int, int]:
    qs = usage_records(start=start, end=end)
    if program_ids is not None:
        qs = qs.filter(program_id__in=list(program_ids))
    rows = qs.order_by().values("program_id").annotate(seconds=Sum("compute_seconds"))
    return {row["program_id"]: round(row["seconds"] or 0) for row in rows}


def run_report(run: PayoutRun) -> Report:
    currency = next(iter(run.total_minor), "EUR")
    report = Report(
        title=f"Payout run #{run.pk}",
        currency=currency,
        run=run,
        subtitle=f"{run.program.name if run.program else 'All programs'} · period ending "
        f"{run.period_end:%d %b %Y} · {run.get_status_display()}",
    )
    report.start, report.end = _previous_period_end(run), run.as_of
    report.by_status = [
        dict(row, amount=_money(row["amount_minor"], row["currency"]), label=Payout.Status(row["status"]).label)
        for row in payout_totals_by_status(run_id=run.pk)
    ]

    # by program: paid (sent + paid), failed/reversed, pending, and compute beside it
    programs: dict[tuple[int, str], dict] = {}
    for row in run_lines_by_program(run_id=run.pk):
        key = (row["program_id"], row["payout__currency"])
        entry = programs.setdefault(
            key,
            {
                "program_id": row["program_id"],
                "program": row["program__name"],
                "currency": row["payout__currency"],
                "paid_minor": 0,
                "failed_minor": 0,
                "pending_minor": 0,
                "planned_minor": 0,
                "payouts": 0,
            },
        )
        bucket = (
            "paid_minor"
            if row["payout__status"] in PAID_STATUSES
            else "pending_minor"
            if row["payout__status"] == Payout.Status.PENDING
            else "failed_minor"
        )
        entry[bucket] += row["amount_minor"]
        entry["planned_minor"] += row["amount_minor"]
        entry["payouts"] += row["payouts"]
    gpu = _gpu_seconds_by_program(start=report.start, end=report.end, program_ids={k[0] for k in programs})
    for entry in programs.values():
        entry["gpu_seconds"] = gpu.get(entry["program_id"], 0)
        for name in ("paid", "failed", "pending", "planned"):
            entry[f"{name}_display"] = _money(entry[f"{name}_minor"], entry["currency"])
    report.by_program = sorted(programs.values(), key=lambda e: (e["program"], e["currency"]))

    payouts = run.payouts.select_related("artist").order_by("artist__display_name", "artist__email", "currency")
    report.by_artist = [_artist_row(p) for p in payouts]
    report.by_kind = [
        dict(row, label=KIND_LABELS.get(row["kind"], row["kind"]), amount=_money(row["amount_minor"], row["currency"]))
        for row in run_composition_by_kind(run=run)
    ]
    report.skipped = skipped_rows(run.skipped)
    report.totals = _totals(report.by_artist)
    report.charts = _charts(report)
    return report


def skipped_rows(skipped: list[dict]) -> list[dict]:
    """Artists owed money who are not paid (by a run, or by a run that was not created), with
    their email, the program concerned and the amount as text."""
    names = dict(User.objects.filter(pk__in=[s["artist_id"] for s in skipped]).values_list("pk", "email"))
    programs = dict(
        Program.objects.filter(pk__in=[s["program_id"] for s in skipped if s.get("program_id")]).values_list(
            "pk", "name"
        )
    )
    return [
        dict(
            s,
            artist=names.get(s["artist_id"], f"#{s['artist_id']}"),
            program=programs.get(s.get("program_id"), "All its programs"),
            amount=_money(s["unpaid_minor"], s["currency"]),
        )
        for s in skipped
    ]


def _totals(by_artist: list[dict]) -> dict[str, Any]:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in by_artist:
        bucket = (
            "paid"
            if row["status"] in PAID_STATUSES
            else "pending"
            if row["status"] == Payout.Status.PENDING
            else "failed"
        )
        totals[row["currency"]][bucket] += row["amount_minor"]
        totals[row["currency"]]["planned"] += row["amount_minor"]
    return {
        currency: {k: {"minor": v, "display": _money(v, currency)} for k, v in values.items()}
        for currency, values in totals.items()
    }


def _charts(report: Report) -> list[dict]:
    charts = []
    if report.by_program:
        charts.append(
            bar_chart(
                chart_id="chart-paid-by-program",
                title="Labour paid per program",
                rows=[
                    (f"{e['program']} ({e['currency']})", e["paid_minor"], e["paid_display"]) for e in report.by_program
                ],
            )
        )
        charts.append(
            bar_chart(
                chart_id="chart-gpu-by-program",
                title="Metered GPU seconds per program",
                rows=[(e["program"], e["gpu_seconds"], f"{e['gpu_seconds']:,} s") for e in report.by_program],
            )
        )
    earnings = [row for row in report.by_kind if row["amount_minor"] > 0]
    if earnings:
        charts.append(
            bar_chart(
                chart_id="chart-by-kind",
                title="Earnings by kind",
                rows=[(f"{row['label']} ({row['currency']})", row["amount_minor"], row["amount"]) for row in earnings],
            )
        )
    return charts


# --- period report ------------------------------------------------------------------------------


def period_report(*, start: dt.date, end: dt.date, program: Program | None = None) -> Report:
    since, until = days_bounds(start, end)
    program_id = program.pk if program else None
    report = Report(
        title="Payouts by period",
        currency="EUR",
        start=since,
        end=until,
        subtitle=f"{program.name if program else 'All programs'} · {start:%d %b %Y} – {end:%d %b %Y}",
    )
    lines = period_payout_lines(start=since, end=until, program_id=program_id)
    programs: dict[tuple[int, str], dict] = {}
    for row in (
        lines.values("program_id", "program__name", "payout__currency", "payout__status")
        .annotate(amount_minor=Sum("amount_minor"))
        .order_by()
    ):
        key = (row["program_id"], row["payout__currency"])
        entry = programs.setdefault(
            key,
            {
                "program_id": row["program_id"],
                "program": row["program__name"],
                "currency": row["payout__currency"],
                "paid_minor": 0,
                "failed_minor": 0,
                "pending_minor": 0,
                "payouts": 0,
            },
        )
        entry["paid_minor" if row["payout__status"] in PAID_STATUSES else "failed_minor"] += row["amount_minor"]
    gpu = _gpu_seconds_by_program(start=since, end=until, program_ids=None if program is None else [program.pk])
    for program_pk in gpu:
        if not any(k[0] == program_pk for k in programs):
            name = Program.objects.filter(pk=program_pk).values_list("name", flat=True).first() or f"#{program_pk}"
            programs[(program_pk, "EUR")] = {
                "program_id": program_pk,
                "program": name,
                "currency": "EUR",
                "paid_minor": 0,
                "failed_minor": 0,
                "pending_minor": 0,
                "payouts": 0,
            }
    for entry in programs.values():
        entry["gpu_seconds"] = gpu.get(entry["program_id"], 0)
        for name in ("paid", "failed", "pending"):
            entry[f"{name}_display"] = _money(entry[f"{name}_minor"], entry["currency"])
    report.by_program = sorted(programs.values(), key=lambda e: (e["program"], e["currency"]))
    payouts = (
        Payout.objects.filter(sent_at__gte=since, sent_at__lt=until)
        .select_related("artist")
        .order_by("artist__display_name", "artist__email", "currency")
    )
    if program_id is not None:
        payouts = payouts.filter(lines__program_id=program_id).distinct()
    report.by_artist = [_artist_row(p) for p in payouts]
    kinds: dict[tuple[str, str], int] = defaultdict(int)
    for row in period_ledger_by_kind(start=since, end=until, program_id=program_id):
        kinds[(row["kind"], row["currency"])] += row["amount_minor"]
    report.by_kind = [
        {"kind": k, "currency": c, "label": KIND_LABELS.get(k, k), "amount_minor": v, "amount": _money(v, c)}
        for (k, c), v in sorted(kinds.items(), key=lambda i: (i[0][1], i[0][0]))
    ]
    report.totals = _totals(report.by_artist)
    report.charts = _charts(report)
    return report


# --- the artist's statement ---------------------------------------------------------------------

PAYER = "Atelier"


def statement(payout: Payout) -> dict[str, Any]:
    """What a payout statement shows (on screen and as PDF): every ledger line the payout pays
    — date, program, kind, source, rate, amount — per program, with the period, the payer,
    the payee and the currency. The lines add up to the payout (`adds_up`)."""
    from payments.selectors import payout_statement

    parts = payout_statement(payout=payout)
    lines = [entry for part in parts for entry in part.entries]
    total = sum(entry.amount_minor for entry in lines)
    first = min((entry.created_at for entry in lines), default=None)
    return {
        "payout": payout,
        "parts": parts,
        "lines": lines,
        "line_count": len(lines),
        "total_minor": total,
        "adds_up": total == payout.amount_minor,
        "currency": payout.currency,
        "period_start": local_day(first) if first else None,
        "period_end": payout.run.period_end,
        "payer": PAYER,
        "payer_programs": [part.program_name for part in parts],
        "payee": payout.artist,
        "stripe_account": payout.connected_account.stripe_account_id,
        "kind_labels": KIND_LABELS,
    }


# --- CSV ---------------------------------------------------------------------------------------

CSV_COLUMNS = [
    "section",
    "program_id",
    "program",
    "artist_id",
    "artist",
    "kind",
    "status",
    "currency",
    "payouts",
    "amount_minor",
    "amount",
    "gpu_seconds",
    "stripe_transfer_id",
    "note",
]


def _safe(value) -> str:
    # A cell a spreadsheet would run as a formula is prefixed with a quote (CSV injection).
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    return text.lstrip("-").isdigit()


def report_csv(report: Report) -> str:
    """One table, one `section` column: by_artist, by_program, by_kind, skipped, total.
    Amounts are integer minor units (amount_minor) with the display text beside them."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)

    def row(**values):
        writer.writerow([_safe(values.get(column, "")) for column in CSV_COLUMNS])

    for r in report.by_artist:
        row(
            section="by_artist",
            artist_id=r["artist_id"],
            artist=r["email"],
            status=r["status"],
            currency=r["currency"],
            payouts=1,
            amount_minor=r["amount_minor"],
            amount=r["amount"],
            stripe_transfer_id=r["stripe_transfer_id"],
            note=r["failure_reason"],
        )
    for r in report.by_program:
        for name in ("paid", "failed", "pending"):
            if r[f"{name}_minor"] or name == "paid":
                row(
                    section="by_program",
                    program_id=r["program_id"],
                    program=r["program"],
                    status=name,
                    currency=r["currency"],
                    payouts=r["payouts"],
                    amount_minor=r[f"{name}_minor"],
                    amount=r[f"{name}_display"],
                    gpu_seconds=r["gpu_seconds"],
                )
    for r in report.by_kind:
        row(
            section="by_kind",
            kind=r["kind"],
            currency=r["currency"],
            amount_minor=r["amount_minor"],
            amount=r["amount"],
            note=r["label"],
        )
    for r in report.skipped:
        row(
            section="skipped",
            artist_id=r["artist_id"],
            artist=r["artist"],
            status=r["code"],
            currency=r["currency"],
            amount_minor=r["unpaid_minor"],
            amount=r["amount"],
            note=r["reason"],
        )
    for currency, values in report.totals.items():
        for name, value in values.items():
            row(section="total", status=name, currency=currency, amount_minor=value["minor"], amount=value["display"])
    return out.getvalue()


def _artist_row(p) -> dict:
    """One payout as a line of a report's per-artist table (run and period reports alike)."""
    return {
        "artist_id": p.artist_id,
        "artist": str(p.artist),
        "email": p.artist.email,
        "payout_id": p.pk,
        "currency": p.currency,
        "status": p.status,
        "status_label": p.get_status_display(),
        "amount_minor": p.amount_minor,
        "amount": p.amount_display,
        "stripe_transfer_id": p.stripe_transfer_id or "",
        "failure_reason": p.failure_reason,
    }
