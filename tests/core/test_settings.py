from __future__ import annotations

import pytest
from typer.testing import CliRunner

from core.cli import app
from core.codec import new_key_spec
from core.settings import DEV_SECRET_KEY, Environment, SettingsError, load_settings

STRONG = "Hq3vZ8kT1mW6pR0yL5nB9cX2fJ7sD4gA"  # 32 random characters


def test_dev_defaults_use_sqlite_under_var() -> None:
    s = load_settings()
    assert s.environment is Environment.dev
    assert s.effective_database_url.startswith("sqlite:///")
    assert s.effective_database_url.endswith("var/socialops.db")
    assert s.secret_key.get_secret_value() == DEV_SECRET_KEY
    assert DEV_SECRET_KEY not in repr(s)  # secrets never printed


def test_production_refuses_dev_secret_and_names_the_setting() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(environment="production", database_url="postgresql://db/prod")
    assert "SOCIALOPS_SECRET_KEY" in str(err.value)
    assert "SOCIALOPS_DATABASE_URL" not in str(err.value)


def test_production_refuses_implicit_database() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(environment="production", secret_key=STRONG)
    assert "SOCIALOPS_DATABASE_URL" in str(err.value)


def test_production_accepts_explicit_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALOPS_ENVIRONMENT", "production")
    monkeypatch.setenv("SOCIALOPS_SECRET_KEY", STRONG)
    monkeypatch.setenv("SOCIALOPS_DATABASE_URL", "postgresql://u@db:5432/socialops")
    monkeypatch.setenv("SOCIALOPS_PAYLOAD_KEYS", new_key_spec("k1"))
    s = load_settings()
    assert s.environment is Environment.production
    assert s.effective_database_url == "postgresql+psycopg://u@db:5432/socialops"


def test_invalid_value_names_the_variable() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(api_port=70000)
    assert "SOCIALOPS_API_PORT" in str(err.value)


def test_cli_refuses_to_start_in_production_with_dev_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALOPS_ENVIRONMENT", "production")
    monkeypatch.setenv("SOCIALOPS_DATABASE_URL", "postgresql://u@db:5432/socialops")
    for command in (["api"], ["worker"], ["db", "upgrade"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, command
        assert "SOCIALOPS_SECRET_KEY" in result.output


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("x" * 40, "only 1 distinct"),
        ("ab" * 20, "only 2 distinct"),
        ("0123456789abcdef" * 2, "run repeats"),
        ("my-dev-key-" + "Q7f2kP9xLm3RtV8wZb1NcdEe", "contains 'dev'"),
        ("insecure-" + "Q7f2kP9xLm3RtV8wZb1NcdEe", "contains 'insecure'"),
        ("please-change-me-" + "Q7f2kP9xLm3RtV8wZb1N", "contains 'change-me'"),
        ("Q7f2kP9xLm3RtV8", "15 characters"),
    ],
)
def test_production_refuses_weak_secrets_by_entropy(secret: str, why: str) -> None:
    with pytest.raises(SettingsError, match="SOCIALOPS_SECRET_KEY") as err:
        load_settings(environment="production", database_url="postgresql://db/prod", secret_key=secret)
    assert why in str(err.value)


def test_generated_secrets_pass() -> None:
    import secrets

    from core.settings import weak_secret

    assert weak_secret(secrets.token_hex(32)) == "" and weak_secret(STRONG) == ""
