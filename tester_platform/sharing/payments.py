"""The share bonus: an approved share earns the program's bonus through the payments
engine's ledger, exactly once per request (the ledger's unique source + kind)."""

from __future__ import annotations

from payments.ledger import share_bonus_post
from payments.selectors import current_rate_card


def post_share_bonus(*, share_request, actor) -> None:
    rate_card = current_rate_card(program_id=share_request.program_id)
    if rate_card is None:
        return  # a program without a published rate card pays no bonus (it is shown to artists before they join)
    share_bonus_post(
        artist=share_request.artist,
        program_id=share_request.program_id,
        rate_card=rate_card,
        share_request_id=share_request.pk,
        created_by=actor if getattr(actor, "pk", None) else None,
        source_label=f"Approved share #{share_request.pk}",
    )
