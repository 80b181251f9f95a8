"""Signals for the writes Django's post_save never reports (conditional ``QuerySet.update``
calls on jobs). Sent with ``artist_ids``; whoever shows jobs may listen. The engine itself
never depends on a listener."""
from django.dispatch import Signal

jobs_updated = Signal()  # kwargs: artist_ids (a set of user ids)
