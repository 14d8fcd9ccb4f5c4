"""One settings object for every process (API, worker, CLI), read from ``SOCIALOPS_*`` variables."""

from __future__ import annotations

import math
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-secret-change-me"
DEFAULT_VAR_DIR = Path("var")


class Environment(StrEnum):
    dev = "dev"
    production = "production"


class SettingsError(RuntimeError):
    """A setting is missing or unsafe; the message names the variable to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SOCIALOPS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,  # an invalid secret must not be echoed in the error
    )

    environment: Environment = Environment.dev
    var_dir: Path = Field(default=DEFAULT_VAR_DIR, description="Where embedded data (SQLite files) lives.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means var_dir/socialops.db.")

    sandbox_database_url: str = Field(
        default="", description="The sandbox platform's own store; empty: var_dir/sandbox.db"
    )

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "socialops"
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    # Temporal client security; what is left unset here comes from the SDK's TEMPORAL_* environment
    # configuration when present (core/temporal.py: connect_options). None: TLS when a cert or API key is set.
    temporal_tls: bool | None = None
    temporal_tls_server_name: str = ""
    temporal_tls_server_ca_cert: Path | None = None
    temporal_tls_client_cert: Path | None = None
    temporal_tls_client_key: Path | None = None
    temporal_api_key: SecretStr = SecretStr("")
    # Workflow payload encryption (core/codec.py): 'keyid:base64key,...', the first encrypts, all decrypt.
    payload_keys: SecretStr = SecretStr("")
    # The codec endpoint for the Temporal UI (/codec/decode): the roles that may see decrypted payloads,
    # and the UI origins that may call it from a browser (CORS).
    codec_roles: list[str] = Field(default_factory=lambda: ["admin"])
    codec_cors_origins: list[str] = Field(default_factory=list)
    # The codec sign-in cookie (POST /codec/session) the web UI sends with TEMPORAL_CODEC_INCLUDE_CREDENTIALS:
    # its lifetime, and its SameSite mode (lax when the UI and the API share a site; none across sites).
    codec_session_hours: int = Field(default=8, ge=1, le=168)
    codec_cookie_samesite: Literal["lax", "strict", "none"] = "lax"

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(
        default="",
        description="The API's address as people reach it (links in calendar feeds); empty: http://api_host:api_port",
    )
    # Request limits (api/limits.py), enforced before routing and authentication: 413 above them.
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024, description="Body limit of ordinary routes")
    max_ingest_request_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Body limit of the ingest routes (webhook, inbox push, entries)",
    )
    max_json_depth: int = Field(default=32, ge=4, le=256, description="Deepest nesting of arrays/objects")

    content_review_sla_hours: float = Field(default=4.0, gt=0, description="Per review stage (R-4.1.3)")
    content_checkpoints_hours: list[float] = Field(
        default_factory=lambda: [1.0, 24.0, 72.0, 168.0],
        description="Metric checkpoints after publishing (R-4.1.5)",
    )
    content_sla_business_hours: bool = Field(default=True, description="Count SLA time in working hours only")

    # Campaigns: the legal cap for one prize, and when leadership must also approve.
    campaign_prize_cap_cny: Decimal = Field(default=Decimal(50000), gt=0)
    campaign_leadership_budget_cny: Decimal = Field(default=Decimal(20000), ge=0)
    campaign_leadership_prize_cny: Decimal = Field(default=Decimal(5000), ge=0)

    # Internal notification channels; each is off until configured.
    notify_wecom_webhook: str = ""
    notify_dingtalk_webhook: str = ""
    notify_dingtalk_secret: SecretStr = SecretStr("")
    notify_feishu_webhook: str = ""
    notify_feishu_secret: SecretStr = SecretStr("")
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "socialops@localhost"
    smtp_to: list[str] = Field(default_factory=list)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False

    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="None: JSON when stdout is not a TTY.")

    # A worker counts as polling when Temporal saw one of its polls this recently. The embedded dev
    # server expires long polls every 10 s; on a cluster with the default 60 s expiry use 90.
    worker_poll_stale_seconds: float = Field(default=30.0, gt=0)
    supervisor_status: Path | None = Field(
        default=None, description="Set by `socialops up`: its children's state, shown in GET /health."
    )
    # A worker serves GET /health on this port for Kubernetes probes (off when unset).
    worker_health_port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("database_url")
    @classmethod
    def _normalise_db_url(cls, value: str) -> str:
        value = value.strip()
        # psycopg 3 is the driver we ship; accept the common spellings.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("payload_keys")
    @classmethod
    def _valid_payload_keys(cls, value: SecretStr) -> SecretStr:
        from core.codec import parse_payload_keys

        parse_payload_keys(value.get_secret_value())  # PayloadKeyError is a ValueError without key material
        return value

    @field_validator("codec_roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        from domain.roles import parse_roles

        return [r.value for r in parse_roles(value)]

    @model_validator(mode="after")
    def _production_is_explicit(self) -> Settings:
        if self.environment is Environment.production:
            problems = production_problems(self)
            if problems:
                raise ValueError("; ".join(problems))
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'socialops.db').as_posix()}"

    @property
    def effective_sandbox_url(self) -> str:
        return self.sandbox_database_url or f"sqlite:///{(self.var_dir / 'sandbox.db').as_posix()}"

    @property
    def api_base_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def public_base_url(self) -> str:
        """Links handed to people: ``SOCIALOPS_PUBLIC_URL``, never the request's Host header."""
        return (self.public_url or self.api_base_url).rstrip("/")


_WEAK_WORDS = ("dev", "insecure", "change-me", "changeme", "password", "example")
MIN_SECRET_BITS = 128.0


def weak_secret(value: str) -> str:
    """Why ``value`` is no production secret ("" when it will do): too short, a known placeholder word, or
    too little entropy (estimated from its characters: a repeated character or a short alphabet fails)."""
    if value == DEV_SECRET_KEY:
        return "it is the development default"
    if len(value) < 32:
        return f"it has {len(value)} characters; at least 32 random ones are needed"
    lowered = value.lower()
    word = next((w for w in _WEAK_WORDS if w in lowered), None)
    if word:
        return f"it contains {word!r}: a placeholder, not a random value"
    distinct = len(set(value))
    pool = sum(
        size
        for size, present in (
            (10, any(c.isdigit() for c in value)),
            (26, any(c.islower() for c in value)),
            (26, any(c.isupper() for c in value)),
            (33, any(not c.isalnum() for c in value)),
        )
        if present
    )
    bits = len(value) * math.log2(max(pool, 2))
    repeat = _repeated_run(value)
    if distinct < 10 or repeat >= 8 or bits < MIN_SECRET_BITS:
        why = (
            f"only {distinct} distinct characters"
            if distinct < 10
            else f"a {repeat}-character run repeats"
            if repeat >= 8
            else f"about {bits:.0f} bits"
        )
        return (
            f"it looks far from random ({why}); generate one, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return ""


def _repeated_run(value: str) -> int:
    """Length of the longest substring that occurs twice (a pattern typed twice is not random)."""
    best = 0
    for size in range(4, len(value) // 2 + 1):
        seen = set()
        found = False
        for i in range(len(value) - size + 1):
            chunk = value[i : i + size]
            if chunk in seen:
                found = True
                break
            seen.add(chunk)
        if not found:
            break
        best = size
    return best


def production_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    why = weak_secret(settings.secret_key.get_secret_value())
    if why:
        problems.append(f"SOCIALOPS_SECRET_KEY is refused in production: {why}")
    if not settings.database_url:
        problems.append("SOCIALOPS_DATABASE_URL must be set explicitly in production")
    if not settings.payload_keys.get_secret_value():
        problems.append("SOCIALOPS_PAYLOAD_KEYS must be set in production: workflow payloads hold personal data")
    return problems


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one readable :class:`SettingsError`."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            name = f"SOCIALOPS_{loc.upper()}" if loc else "settings"
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {msg}" if loc else msg)
        raise SettingsError("invalid configuration: " + "; ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
