"""Production refuses every secret that is written in this repository: at start-up (settings
raise ConfigurationError) and in `manage.py check --deploy` (a deploy system check)."""

import re

import pytest
from django.conf import settings
from django.core.checks import run_checks

from tester_platform.audit.keys import DEMO_AUDIT_CHAIN_KEY
from tester_platform.checks import SHIPPED_SECRETS
from tests.core.test_layout import PRODUCTION_ENV, ROOT, _manage

SECRET_VARIABLES = (
    "SECRET_KEY",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_CONNECT_WEBHOOK_SECRET",
    "METRICS_TOKEN",
    "AUDIT_CHAIN_KEY",
)


def _deploy(**overrides):
    env = {**PRODUCTION_ENV, "METRICS_TOKEN": "metrics-" + "Zq8!" * 8, **overrides}
    env = {k: v for k, v in env.items() if v is not None}
    return _manage("check", "--deploy", "--fail-level", "WARNING", env=env)


def test_production_with_its_own_secrets_passes_check_deploy():
    result = _deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "variable, shipped",
    [
        ("SECRET_KEY", "demo-only-insecure-key-0123456789-abcdefghijklmnopqrstuvwxyz"),
        ("SECRET_KEY", "change-me-to-50-or-more-random-characters-0123456789abcdefghijkl"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_atelier_local"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_..."),
        ("STRIPE_CONNECT_WEBHOOK_SECRET", "whsec_..."),
        ("METRICS_TOKEN", "demo-metrics-token"),
        ("METRICS_TOKEN", "change-me-to-a-long-random-metrics-token"),
        ("AUDIT_CHAIN_KEY", DEMO_AUDIT_CHAIN_KEY),
        ("AUDIT_CHAIN_KEY", "k1:change-me-to-32-or-more-random-characters-0123456789"),
    ],
)
def test_production_with_a_shipped_secret_refuses_to_start(variable, shipped):
    result = _deploy(**{variable: shipped})
    assert result.returncode != 0
    assert "ConfigurationError" in result.stderr and variable in result.stderr
    assert shipped not in result.stderr  # the refusal names the variable, never the value


def test_the_demos_audit_key_is_refused_as_an_old_key_too():
    result = _deploy(AUDIT_CHAIN_OLD_KEYS=DEMO_AUDIT_CHAIN_KEY)
    assert result.returncode != 0 and "AUDIT_CHAIN_OLD_KEYS" in result.stderr


@pytest.mark.parametrize("missing", ["STRIPE_WEBHOOK_SECRET", "STRIPE_CONNECT_WEBHOOK_SECRET", "AUDIT_CHAIN_KEY"])
def test_production_refuses_to_start_without_the_webhook_secret_or_the_audit_key(missing):
    result = _deploy(**{missing: None})
    assert result.returncode != 0
    assert missing in result.stderr


def test_a_short_audit_key_is_refused_in_production():
    result = _deploy(AUDIT_CHAIN_KEY="k1:short")
    assert result.returncode != 0 and "at least 32" in result.stderr


def _good_production_secrets(settings):
    settings.PRODUCTION = True
    settings.SECRET_KEY = "s" + "Kd8#" * 15
    settings.STRIPE_SECRET_KEY = "sk_live_" + "Qe4" * 10
    settings.STRIPE_WEBHOOK_SECRET = "whsec_" + "Yp3" * 10
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_" + "Cn4" * 10
    settings.METRICS_TOKEN = "m" + "Tr5" * 10
    settings.AUDIT_CHAIN_KEYS = {"k1": "Wm7" * 12}


def _secret_errors():
    return [m for m in run_checks(include_deployment_checks=True) if m.id == "atelier.E001"]


@pytest.mark.parametrize(
    "variable",
    ["SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_CONNECT_WEBHOOK_SECRET", "METRICS_TOKEN"],
)
@pytest.mark.parametrize("shipped", sorted(SHIPPED_SECRETS))
def test_the_deploy_check_refuses_every_shipped_value(settings, variable, shipped):
    """Settings assembled some other way (a settings module of one's own) meet the same rule."""
    _good_production_secrets(settings)
    setattr(settings, variable, shipped)
    errors = _secret_errors()
    assert [e.msg.split()[0] for e in errors] == [variable]


def test_the_deploy_check_refuses_a_missing_webhook_secret_and_shipped_audit_keys(settings):
    _good_production_secrets(settings)
    settings.STRIPE_WEBHOOK_SECRET = ""
    settings.AUDIT_CHAIN_KEYS = {"k2": "Wm7" * 12, "dev": DEMO_AUDIT_CHAIN_KEY.partition(":")[2]}
    messages = [e.msg for e in _secret_errors()]
    assert len(messages) == 2
    assert "STRIPE_WEBHOOK_SECRET must be set" in messages[0] and "'dev'" in messages[1]


def test_the_deploy_check_passes_production_with_its_own_secrets(settings):
    _good_production_secrets(settings)
    assert _secret_errors() == []


def test_the_deploy_check_is_quiet_in_the_demo():
    assert settings.PRODUCTION is False and settings.STRIPE_SECRET_KEY in SHIPPED_SECRETS
    assert _secret_errors() == []


def test_the_demos_webhook_secrets_are_made_per_demo_never_shipped(tmp_path):
    """Generated once per state folder and shared by the web app and its local Stripe:
    two demos on one machine never accept each other's events."""
    from devtools.demo_secrets import demo_webhook_secrets

    one = demo_webhook_secrets(tmp_path / "a" / "stripe-webhook-secrets.json")
    assert demo_webhook_secrets(tmp_path / "a" / "stripe-webhook-secrets.json") == one  # read back, not remade
    other = demo_webhook_secrets(tmp_path / "b" / "stripe-webhook-secrets.json")
    assert one["platform"] != one["connect"] and set(one.values()).isdisjoint(other.values())
    assert all(
        value.startswith("whsec_") and value not in SHIPPED_SECRETS for value in [*one.values(), *other.values()]
    )
    assert settings.STRIPE_WEBHOOK_SECRET.startswith("whsec_") and settings.STRIPE_CONNECT_WEBHOOK_SECRET.startswith(
        "whsec_"
    )


def test_every_secret_shipped_in_the_repository_is_listed():
    """.env.example's placeholders, the Procfile's defaults and the demo's defaults: a new
    one that is not added to SHIPPED_SECRETS fails here."""
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for variable in SECRET_VARIABLES:
        assert example[variable] in SHIPPED_SECRETS, variable
    procfile_defaults = re.findall(r"\$\{STRIPE_[A-Z_]*SECRET:-([^}]+)\}", (ROOT / "Procfile").read_text())
    assert set(procfile_defaults) <= SHIPPED_SECRETS
    demo = [
        settings.SECRET_KEY,
        settings.STRIPE_SECRET_KEY,
        settings.METRICS_TOKEN,
        f"{settings.AUDIT_CHAIN_KEY_ID}:{settings.AUDIT_CHAIN_KEYS[settings.AUDIT_CHAIN_KEY_ID]}",
    ]
    assert set(demo) <= SHIPPED_SECRETS
