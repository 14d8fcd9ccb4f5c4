"""Request and response bodies of the ``platform_accounts`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field, SecretStr, field_validator

from domain.kernel import Platform


class AccountCreate(BaseModel):
    platform: Platform
    handle: str = Field(min_length=1, max_length=100, pattern=r"^[^\s/]+$")
    display_name: str = Field(default="", max_length=200)
    connector: str = Field(
        default="sandbox",
        min_length=1,
        max_length=32,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="An installed connector kind (the `socialops.connectors` entry points: sandbox, weibo, website …)",
    )


class CredentialsUpdate(BaseModel):
    """What platform_admin sets by hand: omitted fields keep their stored value, an empty string clears one.

    WeChat OA: ``app_id`` + ``app_secret`` (AppID/AppSecret). WordPress: ``app_id`` = the WordPress user,
    ``app_secret`` = its application password, ``options.site_url``. OAuth platforms: ``app_id`` +
    ``app_secret`` (client id/secret), then ``POST …/authorize``."""

    app_id: str | None = Field(default=None, max_length=200)
    app_secret: SecretStr | None = Field(default=None, max_length=1000)
    access_token: SecretStr | None = Field(default=None, max_length=2000)
    expires_at: AwareDatetime | None = None
    refresh_token: SecretStr | None = Field(default=None, max_length=2000)
    open_id: str | None = Field(default=None, max_length=200)
    api_base: str | None = Field(
        default=None, max_length=500, pattern=r"^(https?://[^\s]+)?$", description="empty: the documented host"
    )
    options: dict[str, str] | None = Field(default=None, description="per-account settings, e.g. safe_domain")

    @field_validator("options")
    @classmethod
    def _options(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is None:
            return v
        if len(v) > 32:
            raise ValueError("at most 32 options")
        for key, value in v.items():
            if not key or len(key) > 64 or not key.replace("_", "").isalnum():
                raise ValueError(f"option name {key!r} must be 1–64 letters, digits or _")
            if len(value) > 1000:
                raise ValueError(f"option {key!r} is longer than 1000 characters")
        return v


class CredentialsPublic(BaseModel):
    """Never a secret: whether each one is set, and when the token expires."""

    app_id: str = ""
    app_secret_set: bool = False
    access_token_set: bool = False
    refresh_token_set: bool = False
    token_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    api_base: str = ""
    options: dict[str, str] = Field(default_factory=dict)
    readable: bool = Field(
        default=True, description="False: sealed with another key (`socialops accounts rotate-key`)"
    )


class AccountPublic(BaseModel):
    id: int
    platform: str
    handle: str
    display_name: str
    connector: str
    active: bool
    status: str = Field(default="active", description="active | reauthorize_needed")
    status_reason: str = ""
    status_since: datetime | None = None
    credentials: CredentialsPublic = Field(default_factory=CredentialsPublic)
    polling: str = Field(default="", description="The workflow that polls this account's comments, DMs, mentions")
    polling_process: str = Field(
        default="", description="started, or starting: recorded, started within a minute (Temporal was busy)"
    )


class AuthorizePublic(BaseModel):
    authorize_url: str = Field(description="Open it in the browser signed in to the platform account")
    redirect_uri: str = Field(
        description="SOCIALOPS_PUBLIC_URL + /platform-accounts/oauth/callback: register it on the platform"
    )
    state_expires_at: datetime


class OAuthDone(BaseModel):
    account_id: int
    status: str
    token_expires_at: datetime | None
