"""The share bonus: an approved share earns the program's bonus through the payments
engine's ledger (exactly once per request). Wired to the ledger with the labour issue."""
from __future__ import annotations


def post_share_bonus(*, share_request, actor) -> None:
    return None  # PENDING-LEDGER: replaced when the earnings ledger lands (issue 5)
