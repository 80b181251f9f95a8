import pytest

from tests.payments.stripe_server import CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET, local_stripe


@pytest.fixture
def stripe_server(settings):
    """The local Stripe, wiped, with settings pointing the real SDK at it."""
    server = local_stripe()
    server.reset()
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_SECRET_KEY = "sk_test_atelier_local"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_WEBHOOK_SECRET
    return server
