"""Signals for the writes Django's post_save never reports: the conditional
``QuerySet.update`` of a claim and of the kill switch (progress ticks are not announced).
Sent with ``artist_ids``; whoever shows jobs may listen. The engine never depends on a
listener."""

from django.dispatch import Signal

jobs_updated = Signal()  # kwargs: artist_ids (a set of user ids)
