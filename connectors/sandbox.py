"""The sandbox platform: a local simulated social platform with its own database, for demos and drills.

It accepts posts, assigns ids, serves them back, grows deterministic metrics over time, and can be
told to fail (before accepting) or to time out after accepting, to exercise the publishing path.
Never a stand-in for a real platform connector.
"""

from __future__ import annotations

import hashlib
import math
import threading
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from connectors.base import (
    InboundItem,
    NotSupported,
    PlatformError,
    PlatformTimeout,
    PostRef,
    PostRequest,
    PostView,
    SearchHit,
)
from connectors.credentials import ConnectorContext
from db.engine import make_engine
from domain.content import MetricsSnapshot
from domain.kernel import Platform

metadata = MetaData()
posts = Table(
    "sandbox_posts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("external_id", String(64), unique=True, nullable=False),
    Column("platform", String(32), nullable=False),
    Column("account", String(100), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("media", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_reason", Text, nullable=True),
    UniqueConstraint("platform", "account", "idempotency_key", name="uq_sandbox_key"),
)
faults = Table(
    "sandbox_faults",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(32), nullable=False),
    Column("operation", String(32), nullable=False),  # publish | get_post | fetch_metrics | delete
    Column("mode", String(32), nullable=False),  # fail | timeout_after_accept | tamper
    Column("remaining", Integer, nullable=False),
)

hidden = Table(
    "sandbox_hidden",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(32), nullable=False),
    Column("external_id", String(200), nullable=False),
    UniqueConstraint("platform", "external_id", name="uq_sandbox_hidden"),
)

_TRAFFIC = [
    ("comment", "请问这款暖手宝充满电要多久？"),
    ("comment", "用了一周，很好用，支持！"),
    ("dm", "买的暖手宝坏了，客服一直不回复，我要投诉退款"),
    ("mention", "@恒星科技 建议出一个粉色款，希望能考虑"),
    ("comment", "加V：hx888888 兼职日赚500，私聊有惊喜"),
    ("dm", "我们公司想批发两百台做年会礼品，麻烦报价"),
    ("reply", "同问，什么时候有货？"),
    ("comment", "物流太慢了，等了一周还没到"),
]

FAULT_MODES = ("fail", "timeout_after_accept", "tamper", "negative_event")

_CHATTER = [
    "今天入手了{b}的新品，包装很用心，体验不错",
    "{b}的客服回复挺快的，问题解决了",
    "有人用过{b}吗？想听听大家的意见",
    "{b}发布会看了，新功能挺有意思",
    "朋友推荐的{b}，用了一周感觉还行",
]
_NEGATIVE_EVENT = [
    "{b}的暖手宝充电时突然起火，太吓人了，有安全隐患！",
    "刚看到新闻，{b}产品自燃，家里的赶紧拔掉吧",
    "{b}产品爆炸烫伤了孩子，我们要起诉，维权到底",
]


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; the sandbox stores UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class SandboxPlatform:
    kind = "sandbox"

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)
        metadata.create_all(self.engine)
        self._lock = threading.Lock()

    # -- control (tests, demos, drills) ---------------------------------------------------------------
    def inject_fault(self, platform: Platform, operation: str, mode: str, times: int = 1) -> None:
        if mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {FAULT_MODES}")
        with self.engine.begin() as conn:
            conn.execute(
                insert(faults).values(platform=platform.value, operation=operation, mode=mode, remaining=times)
            )

    def clear_faults(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(faults))

    def _take_fault(self, platform: Platform, operation: str) -> str | None:
        with self._lock, self.engine.begin() as conn:
            row = conn.execute(
                select(faults.c.id, faults.c.mode, faults.c.remaining)
                .where(
                    faults.c.platform == platform.value, faults.c.operation == operation, faults.c.remaining > 0
                )
                .order_by(faults.c.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            conn.execute(update(faults).where(faults.c.id == row.id).values(remaining=row.remaining - 1))
            return str(row.mode)

    def posts_page(
        self, platform: Platform | None = None, account: str | None = None, limit: int = 100
    ) -> list[dict[str, object]]:
        """The newest posts first, with where and when they were posted (the API's sandbox view)."""
        stmt = select(posts)
        if platform:
            stmt = stmt.where(posts.c.platform == platform.value)
        if account:
            stmt = stmt.where(posts.c.account == account)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(posts.c.id.desc()).limit(limit)).all()
        return [
            {
                **self._view(r).model_dump(),
                "platform": r._mapping["platform"],
                "account": r._mapping["account"],
                "created_at": _utc(r._mapping["created_at"]),
                "deleted_reason": r._mapping["deleted_reason"] or "",
            }
            for r in rows
        ]

    def all_posts(self, platform: Platform | None = None) -> list[PostView]:
        stmt = select(posts)
        if platform:
            stmt = stmt.where(posts.c.platform == platform.value)
        with self.engine.connect() as conn:
            return [self._view(r) for r in conn.execute(stmt.order_by(posts.c.id))]

    # -- the connector interface --------------------------------------------------------------------
    def publish(self, req: PostRequest) -> PostRef:
        fault = self._take_fault(req.platform, "publish")
        if fault == "fail":
            raise PlatformError("sandbox: injected failure before accepting", retryable=True, code="injected")
        existing = self.find_by_key(req.platform, req.account, req.idempotency_key)
        if existing is not None:
            return existing  # the sandbox, like a careful API, dedupes by client key
        external_id = f"sb-{req.platform.value}-{uuid.uuid4().hex[:12]}"
        text = req.text + ("（已被平台修改）" if fault == "tamper" else "")
        with self.engine.begin() as conn:
            conn.execute(
                insert(posts).values(
                    external_id=external_id,
                    platform=req.platform.value,
                    account=req.account,
                    idempotency_key=req.idempotency_key,
                    title=req.title,
                    text=text,
                    media=[m.model_dump(mode="json") for m in req.media],
                    status="live",
                    created_at=datetime.now(UTC),
                )
            )
        if fault == "timeout_after_accept":
            raise PlatformTimeout("sandbox: accepted the post, then timed out before answering")
        return self._ref(req.platform, req.account, external_id, req.idempotency_key)

    def find_by_key(self, platform: Platform, account: str, idempotency_key: str) -> PostRef | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(posts.c.external_id).where(
                    posts.c.platform == platform.value,
                    posts.c.account == account,
                    posts.c.idempotency_key == idempotency_key,
                )
            ).first()
        return None if row is None else self._ref(platform, account, row.external_id, idempotency_key)

    def get_post(self, platform: Platform, account: str, external_id: str) -> PostView | None:
        if self._take_fault(platform, "get_post") == "fail":
            raise PlatformError("sandbox: injected failure", retryable=True, code="injected")
        with self.engine.connect() as conn:
            row = conn.execute(select(posts).where(posts.c.external_id == external_id)).first()
        return None if row is None else self._view(row)

    def fetch_metrics(
        self, platform: Platform, account: str, external_id: str, published_at: datetime, at: datetime
    ) -> MetricsSnapshot:
        """Deterministic growth: the same post at the same age always reads the same numbers."""
        if self._take_fault(platform, "fetch_metrics") == "fail":
            raise PlatformError("sandbox: injected failure", retryable=True, code="injected")
        hours = max((at - published_at).total_seconds() / 3600, 0.0)
        seed = int(hashlib.sha256(external_id.encode()).hexdigest()[:8], 16)
        reach = 2000 + seed % 8000  # this post's eventual audience
        curve = 1 - math.exp(-hours / 20)  # most views in the first day or two
        views = int(reach * curve)
        return MetricsSnapshot(
            views=views,
            likes=int(views * (0.03 + (seed % 7) / 1000)),
            comments=int(views * 0.006),
            reposts=int(views * 0.004),
            favourites=int(views * 0.008),
            follower_gain=int(views * 0.002),
        )

    def delete(self, platform: Platform, account: str, external_id: str, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(posts)
                .where(posts.c.external_id == external_id)
                .values(status="deleted", deleted_reason=reason)
            )

    def edit(self, platform: Platform, account: str, external_id: str, text: str) -> None:
        if platform in (Platform.douyin, Platform.kuaishou):
            raise NotSupported(f"{platform.value} does not allow editing a published post")
        with self.engine.begin() as conn:
            conn.execute(update(posts).where(posts.c.external_id == external_id).values(text=text))

    # -- engagement: comments, DMs, mentions -----------------------------------------------------------
    def fetch_interactions(
        self, platform: Platform, account: str, since: datetime, until: datetime
    ) -> list[InboundItem]:
        """A deterministic stream of Chinese comments, DMs, replies and mentions: one every 15 minutes."""
        step = 15 * 60
        out: list[InboundItem] = []
        start = int(since.timestamp()) // step * step + step
        for ts in range(start, int(until.timestamp()) + 1, step):
            n = ts // step
            kind, text = _TRAFFIC[n % len(_TRAFFIC)]
            out.append(
                InboundItem(
                    external_id=f"{account}-{n}",
                    kind=kind,
                    text=text,
                    author=f"粉丝{n % 613}",
                    author_followers=50 + n % 3000,
                    received_at=datetime.fromtimestamp(ts, UTC),
                )
            )
        return out

    def reply(self, platform: Platform, account: str, external_id: str, text: str, key: str) -> PostRef:
        fault = self._take_fault(platform, "reply")
        if fault == "fail":
            raise PlatformError("sandbox: injected failure before accepting", retryable=True, code="injected")
        existing = self.find_by_key(platform, account, key)
        if existing is not None:
            return existing
        ref = self.publish(
            PostRequest(
                platform=platform, account=account, idempotency_key=key, title=f"re:{external_id}", text=text
            )
        )
        if fault == "timeout_after_accept":
            raise PlatformTimeout("sandbox: accepted the reply, then timed out before answering")
        return ref

    def replies_to(self, platform: Platform, external_id: str) -> list[PostView]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(posts).where(posts.c.platform == platform.value, posts.c.title == f"re:{external_id}")
            )
            return [self._view(r) for r in rows]

    def hide(self, platform: Platform, account: str, external_id: str) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(hidden.c.id).where(hidden.c.platform == platform.value, hidden.c.external_id == external_id)
            ).first()
            if exists is None:
                conn.execute(insert(hidden).values(platform=platform.value, external_id=external_id))

    def unhide(self, platform: Platform, account: str, external_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(hidden).where(hidden.c.platform == platform.value, hidden.c.external_id == external_id)
            )

    def is_hidden(self, platform: Platform, external_id: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(hidden.c.id).where(
                        hidden.c.platform == platform.value, hidden.c.external_id == external_id
                    )
                ).first()
                is not None
            )

    # -- monitoring: platform search ----------------------------------------------------------------
    def search(self, platform: Platform, terms: list[str], since: datetime, until: datetime) -> list[SearchHit]:
        """A deterministic stream of posts mentioning ``terms[0]``: one every 20 minutes, plus a scripted
        negative event (safety terms, big accounts, fast reposts) while a ``negative_event`` fault is armed."""
        if not terms:
            return []
        brand = terms[0]
        out: list[SearchHit] = []
        step = 20 * 60
        start = int(since.timestamp()) // step * step + step
        for ts in range(start, int(until.timestamp()) + 1, step):
            n = ts // step
            out.append(
                SearchHit(
                    external_id=f"{platform.value}-{n}",
                    text=_CHATTER[n % len(_CHATTER)].format(b=brand),
                    author=f"用户{n % 997}",
                    author_followers=100 + n % 5000,
                    engagement=n % 40,
                    published_at=datetime.fromtimestamp(ts, UTC),
                )
            )
        while self._take_fault(platform, "search") == "negative_event":
            n = len(out)
            out.append(
                SearchHit(
                    external_id=f"{platform.value}-event-{uuid.uuid4().hex[:8]}",
                    text=_NEGATIVE_EVENT[n % len(_NEGATIVE_EVENT)].format(b=brand),
                    author="大V曝光",
                    author_followers=2_000_000,
                    engagement=5000,
                    reposts=1200,
                    published_at=until,
                )
            )
        return out

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _ref(platform: Platform, account: str, external_id: str, key: str) -> PostRef:
        return PostRef(
            platform=platform,
            account=account,
            external_id=external_id,
            idempotency_key=key,
            url=f"sandbox://{platform.value}/{account}/{external_id}",
        )

    @staticmethod
    def _view(row: object) -> PostView:
        r = row._mapping  # type: ignore[attr-defined]
        return PostView(
            external_id=r["external_id"],
            title=r["title"],
            text=r["text"],
            status=r["status"],
            url=f"sandbox://{r['platform']}/{r['account']}/{r['external_id']}",
        )


def factory(ctx: ConnectorContext) -> SandboxPlatform:
    """The ``sandbox`` entry point: its store is ``ctx.options["sandbox_url"]`` (settings' sandbox URL)."""
    url = ctx.options.get("sandbox_url")
    if not url:
        raise ValueError("the sandbox connector needs options['sandbox_url']")
    return SandboxPlatform(url)
