"""The audit trail in words: one sentence per event kind, told to the person reading it.

"You requested to share generation #12", "Moderator Mo approved share request #5: …".
The codes (`share.requested`) stay what is stored, hashed and exported; this module only
reads them. Every action the code writes has an entry in SENTENCES
(tests/core/test_audit_sentences.py enumerates them from the source and fails on a new
one without a sentence); an unknown code still reads as a sentence, never as a crash.

It lives with the programs, not in the audit app: it names actors by their role in the
event's program ("Moderator Mo"), so it reads accounts and programs, and the audit app,
which every app writes to, imports neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from payments.money import format_minor
from tester_platform.accounts.roles import roles_of
from tester_platform.programs.models import ProgramStaff


@dataclass
class Said:
    """What a sentence may use: who did it (relative to the reader), whose it was, the
    target's id, the program's name and the event's data."""

    who: str
    whose: str  # "your" when the reader is the subject, else "<name>'s", or "the"
    subject: str  # "you", a name, or ""
    tid: str
    program: str
    data: dict = field(default_factory=dict)

    def d(self, key: str, default: Any = "") -> Any:
        value = self.data.get(key, default)
        return default if value in (None, "") else value

    def money(self, key: str = "amount_minor", currency_key: str = "currency") -> str:
        amount, currency = self.data.get(key), self.data.get(currency_key)
        if not isinstance(amount, int) or isinstance(amount, bool) or not currency:
            return ""
        return format_minor(amount, currency)

    def why(self, key: str = "reason", label: str = "Reason") -> str:
        value = self.d(key)
        return f". {label}: {value}" if value else ""

    def note(self, key: str = "note") -> str:
        value = self.d(key)
        return f". Note: {value}" if value else ""

    def earned(self) -> str:
        amount = self.money()
        return f"; it earned {amount}" if amount else ""

    def yes(self, key: str) -> str:
        return "yes" if self.data.get(key) else "no"


def _gen(s: Said) -> str:
    return f"generation #{s.d('generation')}" if s.d("generation") else "an output"


def _mode(s: Said) -> str:
    mode = s.d("mode")
    return f" ({mode.replace('_', ' ')})" if mode else ""


def _share(s: Said) -> str:
    generation = f" of generation #{s.d('generation')}" if s.d("generation") else ""
    return f"share request #{s.tid}{generation}"


def _token(s: Said) -> str:
    return f"API token {s.d('prefix')}…" if s.d("prefix") else f"API token #{s.tid}"


def _payout(s: Said, what: str) -> str:
    amount = s.money()
    return f"{s.who if s.who != 'Atelier' else 'Stripe'}: payout #{s.tid}{f' of {amount}' if amount else ''} {what}."


def _pay_floor(s: Said) -> str:
    topup = s.money("topup_minor")
    if topup and s.data.get("topup_minor"):
        return f"{s.who} assessed the pay floor for week {s.d('week')}: a top-up of {topup} was added."
    return f"{s.who} assessed the pay floor for week {s.d('week')}: {s.whose} earnings were above it."


def _severity(s: Said) -> str:
    change = s.money("amount_minor")
    follow = f"; the bounty changes by {change}" if change and s.data.get("amount_minor") else ""
    return f"{s.who} re-rated report #{s.tid} from {s.d('from')} to {s.d('to')} severity{s.why()}{follow}."


def _task_pay(s: Said) -> str:
    amount = s.money()
    return f"; {amount} was posted to {s.whose} earnings" if amount else ""


SENTENCES: dict[str, Callable[[Said], str]] = {
    # accounts and tokens
    "account.created": lambda s: f"{s.who} created {s.whose} account.",
    "account.2fa_enabled": lambda s: f"{s.who} turned on two-factor sign-in.",
    "profile.updated": lambda s: f"{s.who} updated {s.whose} profile.",
    "api_token.created": lambda s: f"{s.who} created {_token(s)}.",
    "api_token.revoked": lambda s: f"{s.who} revoked {_token(s)}.",
    "access.token_suspended": lambda s: f"{s.who} suspended {_token(s)}{s.why()}.",
    "access.flag_confirmed": lambda s: f"{s.who} reviewed the access flag and kept access suspended{s.note()}.",
    "access.flag_undone": lambda s: f"{s.who} reviewed the access flag and restored access{s.note()}.",
    "notifications.email_preferences_updated": lambda s: f"{s.who} changed which notices come by email.",
    # programs, invitations, enrollment
    "invitation.created": lambda s: f"{s.who} invited {s.d('email', 'someone')} to {s.program}.",
    "invitation.revoked": lambda s: f"{s.who} revoked the invitation of {s.d('email', 'someone')}.",
    "invitation.resent": lambda s: f"{s.who} sent {s.d('email', 'someone')} a new invitation.",
    "application.submitted": lambda s: f"{s.who} applied to test {s.program}.",
    "application.accepted": lambda s: f"{s.who} accepted {s.whose} application to {s.program}{s.why()}.",
    "application.declined": lambda s: f"{s.who} declined {s.whose} application to {s.program}{s.why()}.",
    "enrollment.started": lambda s: (
        f"{s.who} started {s.whose} enrollment in {s.program} (by {s.d('via', 'invitation')})."
    ),
    "enrollment.activated": lambda s: f"{s.who} completed onboarding: {s.whose} enrollment in {s.program} is active.",
    "enrollment.suspended": lambda s: f"{s.who} suspended {s.whose} participation in {s.program}{s.why()}.",
    "enrollment.reinstated": lambda s: f"{s.who} reinstated {s.whose} participation in {s.program}{s.note()}.",
    "program.paused": lambda s: f"{s.who} paused {s.program}{s.why()}.",
    "program.resumed": lambda s: f"{s.who} resumed {s.program}.",
    "program.settings_updated": lambda s: (
        f"{s.who} changed the settings of {s.program} "
        f"({', '.join(k.replace('_', ' ') for k in s.d('changes', {})) or 'none'})."
    ),
    "program.staff_granted": lambda s: (
        f"{s.who} made {s.subject or s.d('email')} {s.d('role', 'staff').replace('_', ' ')} of {s.program}."
    ),
    "program.staff_revoked": lambda s: (
        f"{s.who} removed {s.subject or s.d('email')} as {s.d('role', 'staff').replace('_', ' ')} of {s.program}."
    ),
    "announcement.published": lambda s: (
        f"{s.who} sent the announcement “{s.d('title')}” to {s.d('recipients', 0)} tester(s)."
    ),
    "rate_card.drafted": lambda s: f"{s.who} drafted rate card v{s.d('version')} for {s.program}.",
    "rate_card.published": lambda s: f"{s.who} published rate card v{s.d('version')} for {s.program}.",
    # consent
    "consent.signed": lambda s: (
        f"{s.who} signed consent agreement v{s.d('version')} of {s.program} "
        f"(training use: {s.yes('training_use')}, marketing use: {s.yes('marketing_use')})."
    ),
    "consent.withdrawn": lambda s: f"{s.who} withdrew consent to {s.program} (agreement v{s.d('version')}).",
    "consent.document_drafted": lambda s: f"{s.who} drafted consent agreement v{s.d('version')} of {s.program}.",
    "consent.document_published": lambda s: (
        f"{s.who} published consent agreement v{s.d('version')} of "
        f"{s.program}; testers sign it again before they generate."
    ),
    # studio
    "generation.submitted": lambda s: f"{s.who} submitted generation #{s.tid}{_mode(s)}.",
    "generation.image_uploaded": lambda s: f"{s.who} uploaded a source image (#{s.tid}).",
    "generation.cancel_requested": lambda s: f"{s.who} cancelled generation #{s.tid}.",
    # sharing
    "share.requested": lambda s: (
        f"{s.who} requested to share {_gen(s)} ({s.d('destination', 'a destination').replace('_', ' ')}): {_share(s)}."
    ),
    "share.withdrawn": lambda s: f"{s.who} withdrew {_share(s)}.",
    "share.revoked": lambda s: f"{s.who} took {_share(s)} down; its public page is gone.",
    "share.resubmitted": lambda s: f"{s.who} resubmitted {_share(s)} for review.",
    "share.appealed": lambda s: f"{s.who} appealed the refusal of {_share(s)}.",
    "share.step_approved": lambda s: f"{s.who} approved a review step of {_share(s)}; the next moderator decides.",
    "share.approved": lambda s: f"{s.who} approved {_share(s)}{s.note()}.",
    "share.rejected": lambda s: (
        f"{s.who} rejected {_share(s)}. "
        f"Reason: {s.d('reason_label') or s.d('reason', 'not given').replace('_', ' ')}"
        f"{s.note()}."
    ),
    "share.changes_requested": lambda s: f"{s.who} asked for changes to {_share(s)}{s.note()}.",
    "share.auto_approved": lambda s: (
        f"Nobody decided {_share(s)} by its deadline, so {s.who} approved it "
        "automatically, as the program's policy promises."
    ),
    "share.appeal_upheld": lambda s: f"{s.who} upheld the refusal of {_share(s)} on appeal.",
    "share.appeal_overturned": lambda s: f"{s.who} overturned the refusal of {_share(s)} on appeal: it is approved.",
    # labour
    "feedback.submitted": lambda s: f"{s.who} filed report #{s.tid} ({s.d('severity')} severity, {s.d('category')}).",
    "feedback.accepted": lambda s: f"{s.who} accepted report #{s.tid}{s.earned()}.",
    "feedback.rejected": lambda s: f"{s.who} rejected report #{s.tid}{s.why()}.",
    "feedback.duplicate": lambda s: (
        f"{s.who} merged report #{s.tid} into report #{s.d('duplicate_of')}, filed "
        "earlier (the first reporter keeps the credit)."
    ),
    "feedback.acted_on": lambda s: f"{s.who} marked report #{s.tid} as acted on{s.note()}.",
    "feedback.severity_rerated": _severity,
    "feedback.attachment_added": lambda s: (
        f"{s.who} attached {s.d('kind', 'a file')} #{s.d('attachment')} to report #{s.tid}."
    ),
    "time.submitted": lambda s: (
        f"{s.who} filed {s.d('minutes')} min of testing for {s.d('date')} (time entry #{s.tid})."
    ),
    "time.accepted": lambda s: f"{s.who} accepted time entry #{s.tid} ({s.d('minutes')} min){s.earned()}.",
    "time.rejected": lambda s: f"{s.who} rejected time entry #{s.tid}{s.why()}.",
    "pay_floor.assessed": _pay_floor,
    "marketing.licensed": lambda s: f"{s.who} used generation #{s.tid} in marketing{s.earned()}.",
    # assignments
    "task.published": lambda s: f"{s.who} published the assignment “{s.d('title')}” (#{s.tid}).",
    "task.closed": lambda s: f"{s.who} closed assignment #{s.tid} to new testers.",
    "task.accepted_by_artist": lambda s: f"{s.who} took on assignment “{s.d('title')}” (#{s.d('task')}).",
    "task.submitted": lambda s: (
        f"{s.who} submitted assignment #{s.d('task')} with {s.d('findings', 0)} finding(s) "
        f"and {s.d('generations', 0)} linked generation(s)."
    ),
    "task.work_accepted": lambda s: f"{s.who} accepted {s.whose} work on assignment #{s.d('task')}{_task_pay(s)}.",
    "task.work_returned": lambda s: f"{s.who} returned {s.whose} work on assignment #{s.d('task')}{s.why()}.",
    "task.withdrawn": lambda s: f"{s.who} gave assignment #{s.d('task')} back.",
    # money
    "payout_account.created": lambda s: f"{s.who} created {s.whose} Stripe payout account.",
    "payout_account.onboarding_started": lambda s: f"{s.who} opened Stripe's onboarding for {s.whose} payout account.",
    "payout_account.updated": lambda s: (
        f"Stripe updated {s.whose} payout account ({', '.join(map(str, s.d('changed', []))) or 'details'})."
    ),
    "payout.pending": lambda s: _payout(s, "is planned"),
    "payout.sent": lambda s: _payout(s, "was sent to the Stripe balance"),
    "payout.in_transit": lambda s: _payout(s, "is on its way to the bank"),
    "payout.arrived": lambda s: _payout(s, "arrived in the bank"),
    "payout.bank_failed": lambda s: _payout(s, f"was refused by the bank{s.why('failure_reason', 'Stripe says')}"),
    "payout.failed": lambda s: _payout(s, f"could not be sent{s.why('failure_reason', 'Stripe says')}"),
    "payout.reversed": lambda s: _payout(s, "was reversed; the amount is owed again"),
    "payout.discarded": lambda s: _payout(s, "was discarded before anything was sent"),
    "payout_run.prepared": lambda s: f"{s.who} prepared payout run #{s.tid} ({s.d('payouts', 0)} payouts).",
    "payout_run.approved": lambda s: f"{s.who} approved payout run #{s.tid}.",
    "payout_run.discarded": lambda s: f"{s.who} discarded payout run #{s.tid}.",
    "payout_run.executed": lambda s: f"{s.who} executed payout run #{s.tid}.",
    "payout_run.interrupted": lambda s: (
        f"Payout run #{s.tid} was interrupted{s.why('error', 'Error')}; it resumes by itself."
    ),
    "reconciliation.run": lambda s: (
        f"{s.who} reconciled the ledger with Stripe: {s.d('differences', 0)} difference(s)."
    ),
}


def _fallback(action: str, s: Said) -> str:
    return f"{s.who} recorded “{action.replace('.', ': ').replace('_', ' ')}”."


def _name(user) -> str:
    return (user.display_name or user.email) if user is not None else ""


class Describer:
    """Sentences for a page of events, with the staff roles of their actors read in two
    queries for the whole page (not one per event)."""

    def __init__(self, *, viewer):
        self.viewer = viewer
        self._program_roles: dict[tuple[int, int], str] = {}
        self._site_roles: dict[int, set[str]] = {}

    def _load(self, events: list) -> None:
        actors = {e.actor_id for e in events if e.actor_id}
        for user_id, program_id, role in ProgramStaff.objects.filter(user_id__in=actors).values_list(
            "user_id", "program_id", "role"
        ):
            self._program_roles[(user_id, program_id)] = role
        for event in events:
            if event.actor_id and event.actor_id not in self._site_roles and event.actor is not None:
                self._site_roles[event.actor_id] = roles_of(event.actor)

    def _who(self, event) -> str:
        if event.actor_id is None:
            return "Atelier"
        if self.viewer is not None and event.actor_id == getattr(self.viewer, "pk", None):
            return "You"
        name = _name(event.actor)
        if event.actor_id == event.subject_id:
            return name
        role = self._program_roles.get((event.actor_id, event.program_id))
        if role == "manager":
            return f"Manager {name}"
        if role == "moderator":
            return f"Moderator {name}"
        roles = self._site_roles.get(event.actor_id, set())
        for site_role, label in (
            ("admin", "Administrator"),
            ("finance", "Finance"),
            ("program_manager", "Manager"),
            ("moderator", "Moderator"),
        ):
            if site_role in roles:
                return f"{label} {name}"
        return name

    def said(self, event) -> Said:
        viewer_id = getattr(self.viewer, "pk", None)
        if event.subject_id is None:
            whose, subject = "the", ""
        elif event.subject_id == viewer_id:
            whose, subject = "your", "you"
        elif event.subject_id == event.actor_id:
            whose, subject = "their", _name(event.subject)
        else:
            whose, subject = f"{_name(event.subject)}'s", _name(event.subject)
        return Said(
            who=self._who(event),
            whose=whose,
            subject=subject,
            tid=event.target_id or "",
            program=event.program.name if event.program_id and event.program else "the program",
            data=event.data or {},
        )

    def sentence(self, event) -> str:
        s = self.said(event)
        render = SENTENCES.get(event.action)
        try:
            text = render(s) if render else _fallback(event.action, s)
        except Exception:  # a sentence must never hide the event: fall back to its code
            text = _fallback(event.action, s)
        # A quoted reason may end the sentence itself ("…approval.").
        for end in ("..", "?.", "!."):
            if text.endswith(end):
                text = text[:-1]
        return text

    def describe(self, events: Iterable) -> list:
        """Set `.sentence` on each event (and return them as a list)."""
        events = list(events)
        self._load(events)
        for event in events:
            event.sentence = self.sentence(event)
        return events


def describe_events(events: Iterable, *, viewer) -> list:
    return Describer(viewer=viewer).describe(events)
