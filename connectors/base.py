"""The platform connector interface every adapter (sandbox or real) implements.

Calls are synchronous (activities run them in a thread). Errors are typed so activities can decide:
``PlatformError(retryable=False)`` stops retries; ``PlatformTimeout`` means the outcome is unknown and
the caller must look the post up by its idempotency key before trying again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from domain.content import MediaRef, MetricsSnapshot
from domain.kernel import Platform


class PostRequest(BaseModel):
    platform: Platform
    account: str
    idempotency_key: str
    title: str = ""
    text: str
    media: list[MediaRef] = Field(default_factory=list)
    publish_at: datetime | None = None  # a platform that schedules (WordPress `future`) holds it until then


class PostRef(BaseModel):
    platform: Platform
    account: str
    external_id: str
    url: str
    idempotency_key: str
    # An asynchronous publish (WeChat freepublish): the platform queued the job; ``external_id`` and
    # ``url`` are empty until ``publish_status(publish_id)`` reports success.
    pending: bool = False
    publish_id: str = ""


class PublishStatus(BaseModel):
    """Where an asynchronous publish job stands (connectors with a ``publish_status`` method)."""

    state: str  # pending | published | failed
    external_id: str = ""
    url: str = ""
    reason: str = ""  # why it failed, in words the owner can act on


class PostView(BaseModel):
    external_id: str
    title: str
    text: str
    status: str  # live | deleted | hidden | pending
    url: str


class InboundItem(BaseModel):
    """A comment, reply, DM or mention read from an account (the inbox's raw material)."""

    external_id: str
    kind: str = "comment"  # comment | reply | dm | mention
    text: str
    author: str = ""
    author_id: str = ""
    author_followers: int = 0
    received_at: datetime | None = None
    post_id: str = ""  # the post a comment belongs to, where the platform says
    parent_id: str = ""  # the comment a reply answers


class SearchHit(BaseModel):
    """A public post found by platform search (monitoring's raw material)."""

    external_id: str
    text: str
    title: str = ""
    url: str = ""
    author: str = ""
    author_followers: int = 0
    engagement: int = 0
    reposts: int = 0
    published_at: datetime | None = None


class PlatformError(Exception):
    def __init__(self, message: str, *, retryable: bool = True, code: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class PlatformTimeout(PlatformError):
    """The request may or may not have taken effect."""


class NotSupported(PlatformError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, code="not_supported")


@runtime_checkable
class PlatformConnector(Protocol):
    kind: str

    def publish(self, req: PostRequest) -> PostRef: ...

    def find_by_key(self, platform: Platform, account: str, idempotency_key: str) -> PostRef | None: ...

    def get_post(self, platform: Platform, account: str, external_id: str) -> PostView | None: ...

    def fetch_metrics(
        self, platform: Platform, account: str, external_id: str, published_at: datetime, at: datetime
    ) -> MetricsSnapshot: ...

    def delete(self, platform: Platform, account: str, external_id: str, reason: str) -> None: ...

    def edit(self, platform: Platform, account: str, external_id: str, text: str) -> None: ...

    # -- engagement (comments, DMs, mentions): NotSupported where the platform has no such API ----------
    def fetch_interactions(
        self, platform: Platform, account: str, since: datetime, until: datetime
    ) -> list[InboundItem]: ...

    def reply(self, platform: Platform, account: str, external_id: str, text: str, key: str) -> PostRef: ...

    def hide(self, platform: Platform, account: str, external_id: str) -> None: ...

    def unhide(self, platform: Platform, account: str, external_id: str) -> None: ...

    # -- monitoring ----------------------------------------------------------------------------------
    def search(
        self, platform: Platform, terms: list[str], since: datetime, until: datetime
    ) -> list[SearchHit]: ...
