"""Rate cards, as staff write them: the policy and the audit trail here, the card's own
invariants (whole minor units, growing versions, a published card never edited) in the
payments engine, which knows nothing of people (payments.rate_cards)."""

from __future__ import annotations

from django.db import transaction

from payments import rate_cards as engine
from payments.models import RateCard
from tester_platform.audit.services import audit_record
from tester_platform.errors import InvalidInput
from tester_platform.policy import Act, authorize
from tester_platform.programs.models import Program

TERMS = engine.TERMS


@transaction.atomic
def rate_card_draft(*, program: Program, actor, **terms) -> RateCard:
    """Write the program's draft card (a new version above the current one). Artists see
    nothing of it until it is published."""
    # The program row serialises drafts: the engine numbers versions by the newest card.
    program = Program.objects.select_for_update().get(pk=program.pk)
    authorize(actor, Act.MANAGE, program=program)
    if terms.get("hourly_rate_minor") == 0:
        # The program exists to pay testers for their time; a zero rate is the failure it answers.
        raise InvalidInput("Testing time is paid: set an hourly rate above zero.", field="hourly_rate_minor")
    card, before = engine.rate_card_save_draft(program_id=program.pk, terms=terms)
    after = {t: getattr(card, t) for t in TERMS}
    audit_record(
        action="rate_card.drafted",
        actor=actor,
        program=program,
        target=card,
        data={"version": card.version, "before": before, "after": after},
    )
    return card


@transaction.atomic
def rate_card_publish(*, card: RateCard, actor) -> RateCard:
    """Publish a draft: from now on it is the program's current card (new work is paid at
    its rates; what was already paid keeps the card it was paid under)."""
    program_id = RateCard.objects.values_list("program_id", flat=True).get(pk=card.pk)
    program = Program.objects.select_for_update().get(pk=program_id)
    authorize(actor, Act.MANAGE, program=program)
    card, previous = engine.rate_card_publish(card_id=card.pk)
    audit_record(
        action="rate_card.published",
        actor=actor,
        program=program,
        target=card,
        data={
            "version": card.version,
            "currency": card.currency,
            "replaces_version": previous.version if previous else None,
        },
    )
    return card
