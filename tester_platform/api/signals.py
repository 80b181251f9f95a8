"""What the API's authentication announces, for apps above it to act on without the API
importing them (the access app records each token's use to spot a leaked token)."""

from django.dispatch import Signal

# Sent once per request authenticated with a bearer token, with token_id, ip, user_agent, now.
token_used = Signal()
