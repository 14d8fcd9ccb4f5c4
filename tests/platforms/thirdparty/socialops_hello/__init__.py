"""A third-party connector for a company CMS ("hello"), written against socialops' public connector API only."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime

from connectors.base import InboundItem, NotSupported, PlatformError, PostRef, PostRequest, PostView, SearchHit
from connectors.credentials import ConnectorContext
from domain.content import MetricsSnapshot
from domain.kernel import Platform
from domain.platform_rules import RULES, PlatformRules, Rule

_POSTS: dict[str, dict[str, str]] = {}
_LOCK = threading.Lock()

# The CMS takes at most 60 characters of body: its rules travel with the connector.
HELLO_RULES = PlatformRules(
    **{
        **RULES[Platform.website].__dict__,
        "label_zh": "Hello CMS",
        "max_text_chars": Rule(60, "hello CMS: the body is at most 60 characters"),
    }
)


class HelloCms:
    kind = "hello_cms"
    rules = {Platform.website: HELLO_RULES}

    def __init__(self, ctx: ConnectorContext) -> None:
        self.ctx = ctx

    def publish(self, req: PostRequest) -> PostRef:
        token = self.ctx.credentials.get(req.platform, req.account).access_token.get_secret_value()
        if not token:
            raise PlatformError("hello CMS: no token", retryable=False)
        with _LOCK:
            ext = "hello-" + hashlib.sha256(req.idempotency_key.encode()).hexdigest()[:10]
            _POSTS[ext] = {
                "title": req.title,
                "text": req.text,
                "key": req.idempotency_key,
                "account": req.account,
            }
        return PostRef(
            platform=req.platform,
            account=req.account,
            external_id=ext,
            url=f"https://cms.example/{ext}",
            idempotency_key=req.idempotency_key,
        )

    def find_by_key(self, platform: Platform, account: str, idempotency_key: str) -> PostRef | None:
        for ext, p in _POSTS.items():
            if p["key"] == idempotency_key:
                return PostRef(
                    platform=platform, account=account, external_id=ext, url="", idempotency_key=p["key"]
                )
        return None

    def get_post(self, platform: Platform, account: str, external_id: str) -> PostView | None:
        p = _POSTS.get(external_id)
        if p is None:
            return None
        return PostView(external_id=external_id, title=p["title"], text=p["text"], status="live", url="")

    def fetch_metrics(
        self, platform: Platform, account: str, external_id: str, published_at: datetime, at: datetime
    ) -> MetricsSnapshot:
        raise NotSupported("hello CMS has no metrics")

    def delete(self, platform: Platform, account: str, external_id: str, reason: str) -> None:
        _POSTS.pop(external_id, None)

    def edit(self, platform: Platform, account: str, external_id: str, text: str) -> None:
        raise NotSupported("hello CMS cannot edit")

    def fetch_interactions(
        self, platform: Platform, account: str, since: datetime, until: datetime
    ) -> list[InboundItem]:
        raise NotSupported("hello CMS has no comments")

    def reply(self, platform: Platform, account: str, external_id: str, text: str, key: str) -> PostRef:
        raise NotSupported("hello CMS has no comments")

    def hide(self, platform: Platform, account: str, external_id: str) -> None:
        raise NotSupported("hello CMS has no comments")

    def unhide(self, platform: Platform, account: str, external_id: str) -> None:
        raise NotSupported("hello CMS has no comments")

    def search(self, platform: Platform, terms: list[str], since: datetime, until: datetime) -> list[SearchHit]:
        raise NotSupported("hello CMS has no search")
