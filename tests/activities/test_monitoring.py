"""Monitoring: queries and matching, risk with reasons, spikes, webhook, feeds, escalation, live topic changes."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.monitoring import MonitoringActivities
from api.app import create_app
from connectors.registry import ConnectorRegistry
from connectors.sandbox import SandboxPlatform
from db.engine import Database
from db.models import Incident, MonitoredItem, MonitorSource, MonitorTopic, TopicIncident
from domain.monitoring import (
    NAME_MASK,
    Authority,
    ItemSignals,
    KeywordGroups,
    RawItem,
    SpikeDetector,
    Tier,
    TopicMatcher,
    TopicScanner,
    TopicSpec,
    assess,
    evaluate,
    parse_query,
)
from domain.monitoring.analysis import scanner_for
from domain.monitoring_io import EscalateInput, MonitorInput, SweepInput
from domain.risk import Impact, Likelihood, RiskLevel, default_matrix
from domain.sentiment import Sentiment
from tests.conftest import test_settings
from tests.content_helpers import content_worker
from tests.emergency_helpers import seed_team
from tests.waiting import until
from workflows.emergency import EmergencyWorkflow
from workflows.monitoring import MonitoringWorkflow

FIXTURES = Path(__file__).parents[1] / "fixtures"
SPEC = TopicSpec(
    key="hengxing",
    name="恒星科技",
    groups=KeywordGroups(brand=["恒星科技", "恒星"], product=["暖手宝"], founder=["张恒"]),
    exclude=["招聘"],
)


# --- pure -------------------------------------------------------------------------------------------------


def test_boolean_queries() -> None:
    q = parse_query('(恒星 OR "Hengxing Tech") AND NOT 招聘 暖手宝')
    assert evaluate(q, {"恒星", "暖手宝"}) and evaluate(q, {"hengxing tech", "暖手宝"})
    assert not evaluate(q, {"恒星", "暖手宝", "招聘"}) and not evaluate(q, {"恒星"})
    assert evaluate(parse_query("a OR b c"), {"a"}) and not evaluate(parse_query("(a OR b) c"), {"a"})
    assert evaluate(parse_query("NOT NOT a"), {"a"})
    for bad, where in (
        ("(a OR b", "expected )"),
        ('a AND ""', "empty quoted"),
        ("a OR", "expected a term"),
        (")", "expected a term"),
        ("a b)", "unexpected"),
    ):
        with pytest.raises(ValueError, match=re.escape(where)):
            parse_query(bad)
    with pytest.raises(ValueError):
        TopicSpec(key="x", name="x", query="(a")


def test_matching_overlapping_adjacent_and_mixed_script() -> None:
    m = TopicMatcher(
        TopicSpec(key="p", name="p", groups=KeywordGroups(brand=["苹果"], product=["手机", "苹果手机", "iPhone"]))
    )
    hit = m.match("abc苹果手机和IPHONE15")
    assert (
        hit.matched and hit.terms == ["iphone", "手机", "苹果", "苹果手机"] and hit.groups == {"brand", "product"}
    )
    spec = SPEC.model_copy(update={"query": "恒星 AND 暖手宝"})
    matcher = TopicMatcher(spec)
    assert matcher.match("恒星暖手宝").matched  # adjacent terms
    assert not matcher.match("恒星发布会").matched
    assert not matcher.match("恒星暖手宝招聘").matched  # exclusion wins
    assert not TopicMatcher(SPEC).match("完全无关").matched


def test_repost_growth_is_a_rate_since_publication() -> None:
    from domain.monitoring.analysis import repost_rate

    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    hour_old = RawItem(external_id="a", text="x", reposts=300, published_at=now - timedelta(hours=1))
    assert repost_rate(hour_old, now) == pytest.approx(300)
    fresh = hour_old.model_copy(update={"published_at": now - timedelta(minutes=1)})
    assert repost_rate(fresh, now) == pytest.approx(1800)  # counted as ten minutes old
    assert repost_rate(hour_old.model_copy(update={"published_at": None}), now) == 0.0
    base = ItemSignals(sentiment=Sentiment.negative, sentiment_confidence=0.9, text="x")
    fast = assess(dataclasses.replace(base, repost_growth_per_hour=250), default_matrix())
    slow = assess(dataclasses.replace(base, reposts=300), default_matrix())
    assert any("转发增长快（每小时约 250 次" in r for r in fast.reasons)
    assert not any("转发" in r for r in slow.reasons)
    assert [Likelihood(fast.likelihood)] != [Likelihood(slow.likelihood)]


def test_one_scan_answers_every_topic_like_its_own_matcher() -> None:
    specs = [
        SPEC,
        TopicSpec(key="query", name="q", query='(恒星 OR "Hengxing Tech") AND NOT 招聘', exclude=["广告"]),
        TopicSpec(key="not-only", name="n", query="NOT 恒星"),  # matches texts with none of its terms
        TopicSpec(key="shared", name="s", groups=KeywordGroups(industry=["暖手宝", "起火"])),  # a risk term too
        TopicSpec(key="empty", name="e"),
    ]
    scanner = TopicScanner(specs)
    texts = [
        "恒星暖手宝起火了，我们要起诉",
        "HENGXING TECH 暖手宝招聘",
        "恒星广告：暖手宝",
        "完全无关的内容",
        "张恒谈暖手宝",
        "",
    ]
    seen: set[str] = set()
    for text in texts:
        sc = scanner.scan(text)
        expected = [(s.key, TopicMatcher(s).match(text)) for s in specs]
        assert sc.hits == [(k, m) for k, m in expected if m.matched], text
        seen.update(k for k, _ in sc.hits)
        risk = assess(ItemSignals(sentiment=Sentiment.negative, text=text), default_matrix())
        assert (
            assess(
                ItemSignals(sentiment=Sentiment.negative, text=text, risk_terms=(sc.safety, sc.legal)),
                default_matrix(),
            )
            == risk
        )
    assert seen == {"hengxing", "query", "not-only", "shared"}
    first = scanner.scan(texts[0])
    assert (first.safety, first.legal) == (["起火"], ["起诉"])

    # Sentiment reads the text with the monitored names (brand, product, founder) masked out; overlapping
    # names become one mask, and other words — risk terms, query terms — stay.
    assert first.opinion_text == f"{NAME_MASK}{NAME_MASK}起火了，我们要起诉"
    assert scanner.scan("张恒星科技好").opinion_text == f"{NAME_MASK}好"
    assert scanner.scan("完全无关的内容").opinion_text == "完全无关的内容"
    assert scanner.scan("HENGXING TECH 很好").opinion_text == "HENGXING TECH 很好"

    # Compiled once per set of definitions; an edited topic gets a new scanner with its new terms.
    assert scanner_for(specs) is scanner_for([s.model_copy() for s in specs])
    edited = [SPEC.model_copy(update={"exclude": ["暖手宝"]}), *specs[1:]]
    assert scanner_for(edited) is not scanner_for(specs)
    assert "hengxing" not in [k for k, _ in scanner_for(edited).scan("恒星暖手宝").hits]


def test_risk_matrix_and_reasons() -> None:
    matrix = default_matrix()
    high = assess(
        ItemSignals(
            sentiment=Sentiment.negative,
            sentiment_confidence=0.9,
            authority=Authority.news,
            author_followers=2_000_000,
            text="恒星暖手宝起火，我们要起诉",
            topic_items_last_hour=60,
            groups={"product"},
        ),
        matrix,
    )
    assert (high.level, high.impact, high.likelihood, high.priority) == (
        RiskLevel.high,
        Impact.severe,
        Likelihood.certain,
        "P1",
    )
    joined = " ".join(high.reasons)
    for reason in (
        "来源权威性：news",
        "≥100万",
        "产品安全词：起火",
        "法律风险词：起诉",
        "近 1 小时 60 条",
        "明确负面",
    ):
        assert reason in joined, reason
    low = assess(ItemSignals(sentiment=Sentiment.negative, sentiment_confidence=0.3, text="有点贵"), matrix)
    assert low.level is RiskLevel.none or low.level is RiskLevel.low
    praise = assess(
        ItemSignals(
            sentiment=Sentiment.positive,
            authority=Authority.news,
            author_followers=5_000_000,
            text="恒星新品很好用",
        ),
        matrix,
    )
    assert praise.level is RiskLevel.none and "无风险" in praise.reasons[-1]
    # The matrix is data: make minor × certain high and the same item becomes high.
    cells = {i: dict(row) for i, row in matrix.cells.items()}
    cells[Impact.minor][Likelihood.unlikely] = RiskLevel.high
    custom = matrix.model_copy(update={"cells": cells})
    assert assess(ItemSignals(sentiment=Sentiment.negative, text="差"), custom).level is RiskLevel.high


def test_spike_detection_on_synthetic_series() -> None:
    d = SpikeDetector(alpha=0.3, k=3.0, warmup=5, min_value=5)
    steady = [10, 12, 9, 11, 10, 13, 11, 10, 12, 11]
    assert not any(d.update(x)[0] for x in steady)
    spike, z = d.update(60)
    assert spike and z > 3
    d2 = SpikeDetector(warmup=5, min_value=5)
    assert not any(d2.update(x)[0] for x in [0, 0, 1, 0, 2, 1, 4])  # small numbers never alarm
    d3 = SpikeDetector(warmup=5)
    assert not d3.update(100)[0]  # no alarm before the baseline exists


# --- webhook ----------------------------------------------------------------------------------------------


def sign(secret: str, ts: str, body: bytes) -> str:
    return hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()


class Api:
    def __init__(self, client: httpx.AsyncClient, tokens: dict[str, str], db: Database) -> None:
        self.client, self.tokens, self.db = client, tokens, db

    async def call(self, who: str, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )

    async def post_signed(
        self, source: str, secret: str, payload: Any, ts: int | None = None, signature: str | None = None
    ) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        t = str(ts if ts is not None else int(time.time()))
        return await self.client.post(
            f"/monitoring/ingest/{source}",
            content=body,
            headers={
                "X-Socialops-Timestamp": t,
                "X-Socialops-Signature": signature or sign(secret, t, body),
                "content-type": "application/json",
            },
        )


@pytest.fixture
async def api(time_skipping: WorkflowEnvironment, database: Database, tmp_path: Path) -> AsyncIterator[Api]:
    team = seed_team(database)
    sandbox = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")
    async with content_worker(time_skipping.client, database, sandbox) as worker:
        settings = test_settings(database, task_queue=worker.task_queue)
        app = create_app(settings, db=database, temporal_client=time_skipping.client)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield Api(client, team.tokens, database)
    sandbox.engine.dispose()


ITEM = {
    "external_id": "svc-1",
    "text": "恒星科技暖手宝新款外观不错",
    "author": "用户A",
    "url": "https://weibo.com/1",
}


async def test_webhook_signature_timestamp_and_redelivery(api: Api) -> None:
    r = await api.call(
        "rc", "POST", "/monitoring/sources", {"key": "bought", "kind": "webhook", "authority": "social"}
    )
    assert r.status_code == 201
    secret = r.json()["secret"]
    too_often = {**SPEC.model_dump(mode="json"), "sweep_minutes": 0}
    r = await api.call("rc", "POST", "/monitoring/topics", too_often)
    assert r.status_code == 422 and r.json()["field"] == "sweep_minutes"
    r = await api.call("rc", "POST", "/monitoring/topics", {**SPEC.model_dump(mode="json"), "query": "(恒星 OR"})
    assert (
        r.status_code == 422 and r.json()["field"] == "query" and r.json()["message"].startswith("query: expected")
    )
    for path in ("/monitoring/topics/nope/stats", "/monitoring/topics/nope/state"):
        r = await api.call("rc", "GET", path)
        assert r.status_code == 404 and r.json()["message"] == "topic nope does not exist", path
    assert (await api.call("rc", "POST", "/monitoring/topics", SPEC.model_dump(mode="json"))).status_code == 201
    payload = {"items": [ITEM]}
    r = await api.post_signed("bought", secret, payload, signature="0" * 64)
    assert r.status_code == 401 and r.json()["error"] == "bad_signature"
    r = await api.post_signed("bought", "wrong-secret", payload)
    assert r.status_code == 401 and r.json()["field"] == "X-Socialops-Signature"
    r = await api.post_signed("bought", secret, payload, ts=int(time.time()) - 3600)
    assert r.status_code == 401 and r.json()["error"] == "stale_timestamp"
    wrong = await api.post_signed("bought", "wrong-secret", payload)
    r = await api.post_signed("nope", secret, payload)  # unknown: answered like a bad signature (was: 404)
    assert r.status_code == 401 and r.json() == wrong.json()
    with api.db.session() as s:  # the signing secret is sealed at rest, not stored as given
        stored = s.exec(select(MonitorSource).where(MonitorSource.key == "bought")).one().secret
    assert stored.startswith("v1.") and secret not in stored
    results = await asyncio.gather(*(api.post_signed("bought", secret, payload) for _ in range(3)))
    assert all(x.status_code == 200 for x in results), [x.text for x in results]
    assert sorted(x.json()["stored"] for x in results) in ([0, 0, 1],)
    with api.db.session() as s:
        rows = s.exec(select(MonitoredItem).where(MonitoredItem.source_key == "bought")).all()
    assert len(rows) == 1 and rows[0].topic_key == "hengxing" and rows[0].sentiment == "positive"
    r = await api.post_signed("bought", secret, {"items": [{"external_id": "x"}]})
    assert r.status_code == 422 and r.json()["field"] == "items.0.text"


async def test_high_risk_webhook_opens_one_incident_and_watch_queue(
    api: Api, time_skipping: WorkflowEnvironment
) -> None:
    secret = (
        await api.call("rc", "POST", "/monitoring/sources", {"key": "svc", "kind": "webhook", "authority": "news"})
    ).json()["secret"]
    await api.call("rc", "POST", "/monitoring/topics", SPEC.model_dump(mode="json"))
    bad = [
        {
            "external_id": f"n-{i}",
            "text": f"恒星科技暖手宝充电起火爆炸，烫伤孩子，我们要起诉维权 {i}",
            "author_followers": 3_000_000,
            "engagement": 8000,
            "reposts": 2000,
        }
        for i in range(3)
    ]
    results = await asyncio.gather(*(api.post_signed("svc", secret, {"items": [b]}) for b in bad))
    assert all(r.status_code == 200 and r.json()["high_risk"]["hengxing"] for r in results), [
        r.text for r in results
    ]
    for _ in range(100):
        with api.db.session() as s:
            incidents = s.exec(select(Incident).where(Incident.topic == "hengxing")).all()
            linked = s.exec(select(MonitoredItem).where(MonitoredItem.incident_id != None)).all()  # noqa: E711
        if incidents and len(linked) == 3:
            break
        await asyncio.sleep(0.1)
    assert len(incidents) == 1 and len(linked) == 3
    handle = time_skipping.client.get_workflow_handle(incidents[0].workflow_id)

    async def all_evidence() -> Any:  # the rows are linked first; the attach signals may still be on their way
        st = await handle.query(EmergencyWorkflow.current)
        return st if len(st.evidence) == 3 else None

    st = await until(all_evidence, "the incident holds all three items as evidence", timeout=30)
    assert st.stage.value == "confirming"
    watch = (await api.call("rc", "GET", "/monitoring/watch")).json()
    assert {w["external_id"] for w in watch} >= {"n-0", "n-1", "n-2"} and watch[0]["reasons"]
    r = await api.call(
        "rc", "POST", f"/monitoring/items/{watch[0]['id']}/review", {"risk_level": "medium", "note": "夸大"}
    )
    assert r.status_code == 200 and r.json()["watch_status"] == "corrected" and r.json()["risk_level"] == "medium"
    r = await api.call("mkt", "POST", f"/monitoring/items/{watch[0]['id']}/review", {"risk_level": "low"})
    assert r.status_code == 403
    items = (await api.call("ops", "GET", "/monitoring/items?risk=high&topic=hengxing")).json()
    assert len(items) == 2


async def test_an_item_matching_two_topics_belongs_to_each(api: Api, time_skipping: WorkflowEnvironment) -> None:
    """Was: an item counted only for the first topic it matched — the second topic's list, statistics,
    spike detection and escalation never saw it; pushed items never reached the statistics; watch=false
    did not filter; the incident record's evidence list stayed empty."""
    from db.models import TopicStat

    secret = (
        await api.call(
            "rc", "POST", "/monitoring/sources", {"key": "svc2", "kind": "webhook", "authority": "news"}
        )
    ).json()["secret"]
    warmers = TopicSpec(key="warmers", name="暖手宝品类", groups=KeywordGroups(product=["暖手宝"]))
    for spec in (SPEC, warmers):
        assert (
            await api.call("rc", "POST", "/monitoring/topics", spec.model_dump(mode="json"))
        ).status_code == 201
    fire = {
        "external_id": "both-1",
        "text": "恒星科技暖手宝充电起火爆炸，烫伤孩子，家长表示要起诉",
        "author_followers": 2_000_000,
        "engagement": 9000,
        "reposts": 3000,
    }
    calm = {"external_id": "both-2", "text": "暖手宝冬天真的好用，恒星科技这款颜值也高", "author": "小林"}
    r = await api.post_signed("svc2", secret, {"items": [fire, calm]})
    assert r.status_code == 200 and set(r.json()["high_risk"]) == {"hengxing", "warmers"}, r.text

    def incidents() -> list[Incident]:
        with api.db.session() as s:
            rows = s.exec(select(Incident).where(col(Incident.topic).in_(["hengxing", "warmers"]))).all()
        return list(rows) if len(rows) == 2 and all(row.evidence for row in rows) else []

    both = await until(incidents, "one incident per topic, each with the item as evidence", timeout=30)
    for row in both:
        assert [e["note"] for e in row.evidence] and "起火" in row.evidence[0]["note"], row.evidence
    for topic in ("hengxing", "warmers"):
        listed = (await api.call("ops", "GET", f"/monitoring/items?topic={topic}")).json()
        assert {i["external_id"] for i in listed} == {"both-1", "both-2"}, (topic, listed)
        # the list names each topic's incident, not only the first one's
        by_id = {i["external_id"]: i for i in listed}
        assert by_id["both-1"]["incidents"] == {row.topic: row.id for row in both}, by_id["both-1"]
        assert by_id["both-2"]["incidents"] == {}
    pending = (await api.call("ops", "GET", "/monitoring/items?watch=true")).json()
    settled = (await api.call("ops", "GET", "/monitoring/items?watch=false")).json()
    assert pending and all(i["watch_status"] == "pending" for i in pending)
    assert {i["external_id"] for i in pending}.isdisjoint({i["external_id"] for i in settled})
    assert len(pending) + len(settled) == len((await api.call("ops", "GET", "/monitoring/items")).json())

    await time_skipping.sleep(timedelta(hours=1, minutes=1))  # the next sweep counts what was pushed

    def stats() -> dict[str, TopicStat]:
        with api.db.session() as s:
            rows = s.exec(select(TopicStat).where(col(TopicStat.volume) > 0)).all()
        return {row.topic_key: row for row in rows} if len({row.topic_key for row in rows}) == 2 else {}

    counted = await until(stats, "both topics' statistics count the pushed items", timeout=30)
    for topic in ("hengxing", "warmers"):
        assert counted[topic].volume == 2 and counted[topic].high_risk == 1, (topic, counted[topic])


async def test_health_answers_while_a_1000_item_batch_is_analysed(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook's analysis and storage run off the event loop: /health answers in the middle of it."""
    import api.routes.monitoring as routes

    secret = (
        await api.call(
            "rc", "POST", "/monitoring/sources", {"key": "bulk", "kind": "webhook", "authority": "social"}
        )
    ).json()["secret"]
    assert (await api.call("rc", "POST", "/monitoring/topics", SPEC.model_dump(mode="json"))).status_code == 201
    inside, release = threading.Event(), threading.Event()
    real = routes.ingest

    def held_ingest(*args: Any, **kw: Any) -> Any:
        inside.set()
        assert release.wait(60), "never released"
        return real(*args, **kw)

    monkeypatch.setattr(routes, "ingest", held_ingest)
    batch = {
        "items": [
            {
                "external_id": f"bulk-{i}",
                "text": f"恒星科技暖手宝第{i}天用着还行，就是充电有点慢",
                "author": f"u{i}",
            }
            for i in range(1000)
        ]
    }
    post = asyncio.create_task(api.post_signed("bulk", secret, batch))
    await until(inside.is_set, "the batch reached its analysis")
    health = await asyncio.wait_for(api.client.get("/health"), 30)  # a blocked loop would never answer
    assert health.status_code in (200, 503) and "components" in health.json()
    assert not post.done()  # it answered while the batch was still being analysed
    release.set()
    r = await post
    assert r.status_code == 200 and r.json()["stored"] == 1000, r.text


# --- sources, escalation, running workflow ----------------------------------------------------------------------


@pytest.fixture
def feed_server() -> Iterator[str]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, directory=str(FIXTURES), **kw)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def add_topic(db: Database, spec: TopicSpec, sources: list[MonitorSource]) -> None:
    with db.session() as s:
        for src in sources:
            s.add(src)
        s.add(MonitorTopic(key=spec.key, spec=spec.model_dump(mode="json")))
        s.commit()


async def test_feed_over_http_is_swept_and_labelled(feed_server: str, sqlite_database: Database) -> None:
    spec = SPEC.model_copy(update={"sources": ["news"]})
    add_topic(
        sqlite_database,
        spec,
        [MonitorSource(key="news", kind="rss", url=f"{feed_server}/news_feed.xml", authority="news")],
    )
    acts = MonitoringActivities(sqlite_database, ConnectorRegistry(sqlite_database, {}))
    now = datetime.now(UTC)
    res = await ActivityEnvironment().run(
        acts.sweep, SweepInput(spec=spec, window_start=now - timedelta(hours=1), now=now)
    )
    assert res.fetched == 3 and res.stored == 2 and res.errors == []  # the unrelated story is not kept
    again = await ActivityEnvironment().run(
        acts.sweep, SweepInput(spec=spec, window_start=now, now=now + timedelta(hours=1))
    )
    assert again.stored == 0 and again.duplicates == 2  # the unrelated story was never kept
    with sqlite_database.session() as s:
        fire = s.exec(select(MonitoredItem).where(MonitoredItem.external_id == "news-1001")).one()
    assert fire.sentiment in ("negative", "neutral") and fire.risk_level in ("medium", "high")
    assert any("产品安全词" in r for r in fire.reasons) and fire.url == "https://news.example.com/a/1001"
    broken = spec.model_copy(update={"sources": ["news", "dead"]})
    add_topic(
        sqlite_database,
        broken.model_copy(update={"key": "other"}),
        [MonitorSource(key="dead", kind="rss", url="http://127.0.0.1:1/feed.xml")],
    )
    res = await ActivityEnvironment().run(
        acts.sweep, SweepInput(spec=broken, window_start=now, now=now + timedelta(hours=2))
    )
    assert res.errors and res.errors[0].startswith("dead:")


async def test_the_feed_fetcher_is_injected(sqlite_database: Database) -> None:
    spec = SPEC.model_copy(update={"sources": ["wire"]})
    add_topic(sqlite_database, spec, [MonitorSource(key="wire", kind="rss", url="feed://wire", authority="news")])
    asked: list[str] = []

    def offline(url: str) -> bytes:
        asked.append(url)
        return (FIXTURES / "news_feed.xml").read_bytes()

    acts = MonitoringActivities(sqlite_database, ConnectorRegistry(sqlite_database, {}), fetch_feed=offline)
    now = datetime.now(UTC)
    res = await ActivityEnvironment().run(
        acts.sweep, SweepInput(spec=spec, window_start=now - timedelta(hours=1), now=now)
    )
    assert asked == ["feed://wire"] and res.fetched == 3 and res.stored == 2 and res.errors == []


async def test_a_sweep_hands_high_risk_items_to_every_topic_they_match(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, tmp_path: Path
) -> None:
    """Was: a sweep escalated only for its own topic; the other topic never saw the item (it was stored)."""
    db = sqlite_database
    seed_team(db)
    spec = SPEC.model_copy(update={"sources": ["wire"]})
    warmers = TopicSpec(key="warmers", name="暖手宝品类", groups=KeywordGroups(product=["暖手宝"]))
    add_topic(db, spec, [MonitorSource(key="wire", kind="rss", url="feed://wire", authority="news")])
    add_topic(db, warmers, [])
    fire = (
        (FIXTURES / "news_feed.xml")
        .read_bytes()
        .replace("消协已介入".encode(), "消协已介入，家长起诉，烧伤".encode())
    )
    sandbox = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")
    async with content_worker(time_skipping.client, db, sandbox) as worker:
        acts = MonitoringActivities(db, ConnectorRegistry(db, {"sandbox": sandbox}), fetch_feed=lambda _: fire)
        env = ActivityEnvironment(client=time_skipping.client)
        env.info = dataclasses.replace(env.info, task_queue=worker.task_queue)
        now = datetime.now(UTC)
        res = await env.run(acts.sweep, SweepInput(spec=spec, window_start=now - timedelta(hours=1), now=now))
        with db.session() as s:
            high = s.exec(select(MonitoredItem).where(MonitoredItem.risk_level == "high")).all()
        assert high and set(res.high_risk_ids) == {h.id for h in high}, [(h.text, h.reasons) for h in high]
        assert all(set(h.topics) == {"hengxing", "warmers"} for h in high)
        h = time_skipping.client.get_workflow_handle("monitor-warmers")

        async def escalated() -> Any:
            st = await h.query(MonitoringWorkflow.current)
            return st if st.last_incident_id else None

        st = await until(escalated, "the other topic's workflow escalated the item", timeout=30)
        with db.session() as s:
            incident = s.get(Incident, st.last_incident_id)
        assert incident is not None and incident.topic == "warmers" and incident.evidence
    sandbox.engine.dispose()


async def test_simultaneous_high_risk_hits_open_exactly_one_incident(
    time_skipping: WorkflowEnvironment, database: Database, tmp_path: Path
) -> None:
    seed_team(database)
    add_topic(database, SPEC, [])
    with database.session() as s:
        ids = []
        for i in range(5):
            row = MonitoredItem(
                source_key="svc",
                external_id=f"h-{i}",
                topic_key="hengxing",
                text=f"起火 {i}",
                sentiment="negative",
                risk_level="high",
            )
            s.add(row)
            s.flush()
            ids.append(row.id)
        s.commit()
    sandbox = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")
    async with content_worker(time_skipping.client, database, sandbox) as worker:
        env = ActivityEnvironment(client=time_skipping.client)
        env.info = dataclasses.replace(env.info, task_queue=worker.task_queue)
        acts = MonitoringActivities(database, ConnectorRegistry(database, {"sandbox": sandbox}))
        results = await asyncio.gather(
            *(
                env.run(acts.escalate, EscalateInput(topic_key="hengxing", topic_name="恒星", item_ids=[i]))
                for i in ids
            )
        )
        assert len({r.incident_id for r in results}) == 1 and sum(r.created for r in results) == 1
        with database.session() as s:
            assert len(s.exec(select(Incident).where(Incident.topic == "hengxing")).all()) == 1
            assert s.get(TopicIncident, "hengxing") is not None
        st = await time_skipping.client.get_workflow_handle(f"incident-{results[0].incident_id}").query(
            EmergencyWorkflow.current
        )
        assert len(st.evidence) == 5
    sandbox.engine.dispose()


async def test_topic_change_applies_to_the_running_workflow(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, tmp_path: Path
) -> None:
    sandbox = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")
    with sqlite_database.session() as s:
        s.add(MonitorSource(key="sb-weibo", kind="platform", url="sandbox://weibo", authority="social"))
        s.commit()
    spec = SPEC.model_copy(update={"tier": Tier.daily, "sources": []})
    add_topic(sqlite_database, spec, [])
    async with content_worker(time_skipping.client, sqlite_database, sandbox) as worker:
        h = await time_skipping.client.start_workflow(
            MonitoringWorkflow.run, MonitorInput(spec=spec), id="monitor-hengxing", task_queue=worker.task_queue
        )
        for _ in range(100):
            if (await h.query(MonitoringWorkflow.current)).sweeps == 1:
                break
            await asyncio.sleep(0.05)
        st = await h.query(MonitoringWorkflow.current)
        assert st.sweeps == 1 and st.last_result is not None and st.last_result.fetched == 0
        changed = spec.model_copy(update={"tier": Tier.hourly, "sources": ["sb-weibo"]})
        await h.execute_update(MonitoringWorkflow.update_topic, changed)
        for _ in range(100):
            st = await h.query(MonitoringWorkflow.current)
            if st.sweeps == 2:
                break
            await asyncio.sleep(0.05)
        assert st.sweeps == 2 and st.spec.tier is Tier.hourly  # swept at once with the new spec, not in a day
        assert st.spec.sources == ["sb-weibo"]
        assert st.next_sweep is not None and st.last_sweep is not None
        assert st.next_sweep - st.last_sweep == timedelta(hours=1)
        sandbox.inject_fault(
            __import__("domain.content", fromlist=["Platform"]).Platform.weibo, "search", "negative_event", 3
        )
        await time_skipping.sleep(timedelta(hours=1, minutes=1))
        for _ in range(100):
            st = await h.query(MonitoringWorkflow.current)
            if st.last_incident_id:
                break
            await asyncio.sleep(0.1)
        assert st.last_incident_id is not None and st.escalations == 1  # the scripted event escalated
        assert st.last_result is not None and st.last_result.fetched >= 3 + 3  # an hour of chatter plus the event
        # A custom interval overrides the tier's.
        swept = st.sweeps
        await h.execute_update(MonitoringWorkflow.update_topic, changed.model_copy(update={"sweep_minutes": 20}))
        for _ in range(100):
            st = await h.query(MonitoringWorkflow.current)
            if st.sweeps == swept + 1:
                break
            await asyncio.sleep(0.05)
        assert st.next_sweep is not None and st.last_sweep is not None
        assert st.sweeps == swept + 1 and st.next_sweep - st.last_sweep == timedelta(minutes=20)
        await h.execute_update(MonitoringWorkflow.stop)
        assert (await h.result()).stopped
    sandbox.engine.dispose()


# Team-written posts about a monitored brand (恒星 — its first character leans positive in the review corpus),
# never used for training: the analysis must read the opinion, not the name.
OPINION_PROBE = [
    (0, "恒星暖手宝自燃，消协已介入调查"),
    (0, "恒星科技的暖手宝充电时起火了，孩子被烫伤"),
    (0, "恒星的客服一直踢皮球，问题拖了一个月"),
    (0, "曝光恒星科技：宣传参数造假"),
    (0, "买了恒星的降噪耳机，三天就坏了，退货还要自己出运费"),
    (0, "恒星被罚款的新闻看到了吗，太失望了"),
    (0, "张恒的回应完全是在甩锅"),
    (0, "恒星暖手宝漏电，差点出事"),
    (1, "恒星暖手宝做工扎实，冬天全靠它了"),
    (1, "恒星科技的售后给我换了新机，效率很高"),
    (1, "张恒的访谈很真诚，圈粉了"),
    (1, "恒星降噪耳机音质出色，通勤必备"),
    (1, "支持恒星，国货越来越好"),
    (1, "恒星的包装很用心，送人很有面子"),
    (0, "恒星充电宝在地铁里起火爆炸，多名乘客受伤，家属表示将起诉"),  # 地铁 is good news in hotel reviews
    (1, "恒星科技在地铁站举办公益活动，乘客纷纷点赞"),
]


def test_sentiment_reads_the_opinion_not_the_monitored_name() -> None:
    from domain.monitoring.analysis import Analyzer

    groups = SPEC.groups.model_copy(update={"product": ["暖手宝", "降噪耳机"]})
    analyzer = Analyzer([SPEC.model_copy(update={"groups": groups})], default_matrix())
    items = [RawItem(external_id=str(i), text=t) for i, (_, t) in enumerate(OPINION_PROBE)]
    analysed = analyzer.analyse_items(items, Authority.social, {}, keep_unmatched=True)
    scored = [(label, t, round(a.score, 2)) for (label, t), a in zip(OPINION_PROBE, analysed, strict=True)]
    correct = sum(int((score >= 0.5) == bool(label)) for label, _, score in scored)
    assert correct / len(OPINION_PROBE) >= 0.85, scored
    # The same negative post read with the name left in looks less negative: the mask is doing the work.
    unmasked = analyzer.model.positive_probability([OPINION_PROBE[0][1]])[0]
    assert analysed[0].score < unmasked - 0.03


def test_a_harm_reported_flatly_is_negative_not_neutral() -> None:
    """A newcomer's news-style item (起火, 送医, 起诉) came out neutral (p 0.37) while its risk was high."""
    from domain.monitoring.analysis import Analyzer

    analyzer = Analyzer([SPEC], default_matrix())
    texts = [
        "多名用户反映恒星科技暖手宝使用中冒烟、着火，有儿童吸入烟雾后送医，家长表示将起诉",
        "恒星科技暖手宝通过了安全检测，没有冒烟起火的问题，质量很好，大家放心买",
        "恒星科技今天发布了新款暖手宝",
    ]
    got = analyzer.analyse_items(
        [RawItem(external_id=str(i), text=t) for i, t in enumerate(texts)], Authority.news, {}, True
    )
    assert [a.sentiment for a in got] == [Sentiment.negative, Sentiment.positive, Sentiment.neutral], [
        (a.sentiment, round(a.score, 2)) for a in got
    ]
