"""Request and response bodies of the ``platform_accounts`` routes: *Create / *Update for what comes in, *Public for what goes out."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.kernel import Platform


class AccountCreate(BaseModel):
    platform: Platform
    handle: str = Field(min_length=1, max_length=100, pattern=r"^[^\s/]+$")
    display_name: str = Field(default="", max_length=200)
    connector: str = Field(default="sandbox", pattern=r"^(sandbox)$", description="Installed connectors: sandbox")


class AccountPublic(BaseModel):
    id: int
    platform: str
    handle: str
    display_name: str
    connector: str
    active: bool
    polling: str = Field(default="", description="The workflow that polls this account's comments, DMs, mentions")
    polling_process: str = Field(
        default="", description="started, or starting: recorded, started within a minute (Temporal was busy)"
    )
