"""Production refuses secrets anyone can read in this repository.

The demo ships working secrets so `make demo` runs with no setup, and .env.example ships
placeholders. Every one of them is public: a production that starts with the demo's Stripe
webhook secret accepts webhooks forged by anyone who read the Procfile (one made money
owed again). So production checks its secrets against every value shipped here, twice:
settings.py raises ConfigurationError at start-up, and a deploy system check
(`manage.py check --deploy`) says the same for settings assembled some other way.

Importable from settings.py: Django's check framework is imported only where it is used.
"""

from __future__ import annotations

from tester_platform.audit.keys import DEMO_AUDIT_CHAIN_KEY

_DEMO_AUDIT_CHAIN_SECRET = DEMO_AUDIT_CHAIN_KEY.partition(":")[2]

# Every secret value that exists in the repository. A new demo default or placeholder goes
# here too (tests/core/test_production_secrets.py reads .env.example and the Procfile).
SHIPPED_SECRETS: frozenset[str] = frozenset(
    {
        # settings.py demo defaults (the Stripe one is also the Procfile's and the local
        # Stripe server's default webhook secret)
        "demo-only-insecure-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "sk_test_atelier_local",
        "whsec_atelier_local",
        "demo-metrics-token",
        DEMO_AUDIT_CHAIN_KEY,
        _DEMO_AUDIT_CHAIN_SECRET,
        # .env.example placeholders
        "change-me-to-50-or-more-random-characters-0123456789abcdefghijkl",
        "sk_live_...",
        "whsec_...",
        "change-me-to-a-long-random-metrics-token",
        "k1:change-me-to-32-or-more-random-characters-0123456789",
        "change-me-to-32-or-more-random-characters-0123456789",
    }
)


def production_secret_problems(
    *,
    secret_key: str,
    stripe_secret_key: str,
    stripe_webhook_secret: str,
    metrics_token: str,
    audit_chain_keys: dict[str, str],
    stripe_connect_webhook_secret: str | None = None,
) -> list[str]:
    """What is wrong with production's secrets; empty means nothing. Never echoes a value."""
    problems = []
    shipped = "is a value shipped in the repository (a demo default or an .env.example placeholder); set your own"
    for name, value in (
        ("SECRET_KEY", secret_key),
        ("STRIPE_SECRET_KEY", stripe_secret_key),
        ("STRIPE_WEBHOOK_SECRET", stripe_webhook_secret),
        ("METRICS_TOKEN", metrics_token),
        ("STRIPE_CONNECT_WEBHOOK_SECRET", stripe_connect_webhook_secret or ""),
    ):
        if value and value.strip() in SHIPPED_SECRETS:
            problems.append(f"{name} {shipped}")
    if not stripe_webhook_secret:
        # Without it no webhook verifies, and a check that fails open would be worse.
        problems.append("STRIPE_WEBHOOK_SECRET must be set in production (the endpoint's whsec_... signing secret)")
    if stripe_connect_webhook_secret is not None and not stripe_connect_webhook_secret:
        # Payouts reach "arrived" or "bank failed" only through the Connect endpoint's events.
        problems.append(
            "STRIPE_CONNECT_WEBHOOK_SECRET must be set in production (the Connect endpoint's whsec_... signing secret)"
        )
    if stripe_connect_webhook_secret and stripe_connect_webhook_secret == stripe_webhook_secret:
        problems.append("STRIPE_CONNECT_WEBHOOK_SECRET must differ from STRIPE_WEBHOOK_SECRET (two endpoints)")
    if not audit_chain_keys:
        problems.append("AUDIT_CHAIN_KEY must be set in production ('<id>:<secret>')")
    for key_id, secret in audit_chain_keys.items():
        if secret in SHIPPED_SECRETS or f"{key_id}:{secret}" in SHIPPED_SECRETS:
            # An old key that is public too: events under it could be forged, so it is refused.
            problems.append(f"AUDIT_CHAIN_KEY / AUDIT_CHAIN_OLD_KEYS: key {key_id!r} {shipped}")
    return problems


def production_secrets_check(app_configs=None, **kwargs):
    """Deploy check (atelier.E001): the same rule as settings.py, on the settings in use."""
    from django.conf import settings
    from django.core.checks import Error

    if not getattr(settings, "PRODUCTION", False):
        return []
    problems = production_secret_problems(
        secret_key=settings.SECRET_KEY,
        stripe_secret_key=getattr(settings, "STRIPE_SECRET_KEY", ""),
        stripe_webhook_secret=getattr(settings, "STRIPE_WEBHOOK_SECRET", ""),
        stripe_connect_webhook_secret=getattr(settings, "STRIPE_CONNECT_WEBHOOK_SECRET", ""),
        metrics_token=getattr(settings, "METRICS_TOKEN", ""),
        audit_chain_keys=dict(getattr(settings, "AUDIT_CHAIN_KEYS", {}) or {}),
    )
    return [Error(problem, id="atelier.E001") for problem in problems]
