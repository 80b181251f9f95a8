"""The shape of the house: package names, dependency direction, production settings."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tester_platform.env import ConfigurationError, env_bool, env_int

ROOT = Path(__file__).resolve().parents[2]


def test_no_top_level_package_shadows_the_standard_library():
    names = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    names |= {p.stem for p in ROOT.glob("*.py")}
    assert names, "found no packages at all"
    assert not names & set(sys.stdlib_module_names)


def test_dependency_direction_contracts_hold():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


PRODUCTION_ENV = {
    "ATELIER_MODE": "production",
    "SECRET_KEY": "k3y-" + "x9Q!zr7#Lp2@vB5$" * 4,
    "ALLOWED_HOSTS": "atelier.example.com",
    "DATABASE_URL": "postgres://atelier@127.0.0.1:5432/postgres",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
    # Secrets of this run only: production refuses every secret written in the repository.
    "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(24),
    "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(24),
    "AUDIT_CHAIN_KEY": "k1:" + secrets.token_urlsafe(32),
}


def _manage(*args, env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "DJANGO_"))}
    full_env.update(env)
    full_env["ATELIER_VAR_DIR"] = os.environ["ATELIER_TEST_RUN_DIR"] + "/prod-check"
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True)


def test_check_deploy_with_production_variables_reports_no_issues():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "CACHE_URL"])
def test_production_refuses_to_start_without_required_settings(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_settings_helpers_fail_loudly(monkeypatch):
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ConfigurationError, match="X_BOOL"):
        env_bool("X_BOOL", False)
    monkeypatch.setenv("X_INT", "ten")
    with pytest.raises(ConfigurationError, match="X_INT"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "-3")
    with pytest.raises(ConfigurationError, match="minimum"):
        env_int("X_INT", 1, minimum=0)
    monkeypatch.setenv("X_BOOL", "yes")
    assert env_bool("X_BOOL", False) is True


def test_a_bad_database_url_is_a_clear_configuration_error():
    result = _manage("check", env={"DATABASE_URL": "nonsense://"})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
