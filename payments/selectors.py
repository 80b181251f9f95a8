from __future__ import annotations

from payments.models import RateCard


def current_rate_card(*, program_id: int) -> RateCard | None:
    return (
        RateCard.objects.filter(program_id=program_id, published_at__isnull=False).order_by("-version").first()
    )
