"""Signals for the writes Django's post_save never reports (``bulk_create`` and conditional
``QuerySet.update`` on payouts). Sent with ``artist_ids``; whoever shows payouts may listen.
The engine itself never depends on a listener."""

from django.dispatch import Signal

payouts_updated = Signal()  # kwargs: artist_ids (a set of user ids)
