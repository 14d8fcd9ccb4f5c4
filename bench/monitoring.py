"""Monitoring benchmark: prints one JSON line. Run: ``python -m bench.monitoring`` (needs the dev extras).

(a) analysis throughput — topic match + sentiment + risk — with 10,000 keywords on 100,000 Chinese texts,
    against the naive ``for kw in keywords: kw in text`` loop measured in the same run (on a sample: at
    ~1,600 texts/s the naive loop would take a minute per 100k) and their ratio;
(b) webhook ingest throughput into stored, labelled items (the real API, in-process, SQLite);
(c) latency from a high-risk item's ingestion to its incident workflow running (Temporal dev server, real
    worker), p50 and p95.
Figures are ratios and rates measured on this machine in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import hashlib
import hmac
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.corpus import keywords, texts
from bench.harness import dev_server, quiet_logs


def bench_analysis(n_texts: int, n_keywords: int, naive_sample: int) -> dict[str, Any]:
    from core.warmup import settle
    from domain.monitoring import Authority, KeywordGroups, RawItem, TopicSpec
    from domain.monitoring.analysis import Analyzer
    from domain.risk import default_matrix
    from domain.sentiment import default_model

    kws = keywords(n_keywords)
    corpus = texts(n_texts, kws)
    spec = TopicSpec(key="bench", name="bench", groups=KeywordGroups(brand=["恒星科技"], industry=kws))
    analyzer = Analyzer([spec], default_matrix(), default_model())
    items = [RawItem(external_id=str(i), text=t) for i, t in enumerate(corpus)]
    settle()  # as the worker and the API do after start-up; applies to both measurements alike
    started = time.perf_counter()
    analysed = 0
    for i in range(0, len(items), 2000):
        analysed += len(analyzer.analyse_items(items[i : i + 2000], Authority.social, {}, True))
    ours = analysed / (time.perf_counter() - started)

    # The naive baseline: the same sentiment (in one batch, as ours) and risk, but matching by `kw in text`
    # for every keyword.
    sample = corpus[:naive_sample]
    model = analyzer.model
    started = time.perf_counter()
    from domain.monitoring import ItemSignals, assess

    for text, (label, _, conf) in zip(sample, model.classify(sample), strict=True):
        hits = [kw for kw in kws if kw in text]
        assess(
            ItemSignals(
                sentiment=label, sentiment_confidence=conf, groups={"industry"} if hits else set(), text=text
            ),
            analyzer.matrix,
        )
    naive = len(sample) / (time.perf_counter() - started)
    return {
        "analysis_items_per_s": round(ours),
        "naive_items_per_s": round(naive),
        "analysis_vs_naive": round(ours / naive, 1),
        "analysis_texts": n_texts,
        "keywords": n_keywords,
        "naive_sample": naive_sample,
    }


def _signed(secret: str, body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Socialops-Timestamp": ts, "X-Socialops-Signature": sig, "content-type": "application/json"}


async def bench_ingest_and_latency(n_ingest: int, trials: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="socialops-bench-"))
    try:
        async with dev_server(tmp) as address:
            return await _ingest_and_latency(address, tmp, n_ingest, trials)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def _ingest_and_latency(address: str, tmp: Path, n_ingest: int, trials: int) -> dict[str, Any]:
    import httpx

    from api.app import create_app
    from connectors.sandbox import SandboxPlatform
    from core.registry import Dependencies
    from core.settings import Settings
    from core.temporal import connect
    from db import migrate
    from db.accounts import create_user
    from db.engine import Database
    from domain.roles import Role
    from worker import build_worker

    db = Database(f"sqlite:///{tmp / 'bench.db'}")
    migrate.upgrade(db.engine)
    with db.session() as s:
        _, token = create_user(s, "bench", [Role.risk_compliance])
        s.commit()
    settings = Settings(database_url=db.url, temporal_address=address, task_queue="bench", log_level="CRITICAL")
    client = await connect(settings)
    sandbox = SandboxPlatform(f"sqlite:///{tmp / 'sandbox.db'}")
    try:
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            async with build_worker(client, "bench", Dependencies(db=db, connectors={"sandbox": sandbox}), ex):
                app = create_app(settings, db=db, temporal_client=client)
                auth = {"Authorization": f"Bearer {token}"}
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://b", timeout=60
                ) as c:
                    r = await c.post(
                        "/monitoring/sources",
                        headers=auth,
                        json={"key": "svc", "kind": "webhook", "authority": "social"},
                    )
                    secret = r.json()["secret"]
                    ingest_rate = await _ingest(c, auth, secret, n_ingest)
                    latencies = [await _high_risk_latency(c, auth, secret, db, client, t) for t in range(trials)]
    finally:
        sandbox.engine.dispose()
        db.dispose()
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    return {
        "ingest_items_per_s": round(ingest_rate),
        "ingest_items": n_ingest,
        "high_risk_to_incident_p50_s": round(statistics.median(latencies), 3),
        "high_risk_to_incident_p95_s": round(p95, 3),
        "latency_trials": trials,
    }


async def _ingest(c: Any, auth: dict[str, str], secret: str, n: int) -> float:
    """Signed webhook deliveries of 500 items each, into stored and labelled items: items per second."""
    topic = {"key": "brand", "name": "恒星科技", "groups": {"brand": ["恒星科技"]}, "tier": "daily"}
    await c.post("/monitoring/topics", headers=auth, json=topic)
    corpus = texts(n, keywords(100))
    started = time.perf_counter()
    for i in range(0, n, 500):
        items = [{"external_id": f"i-{j}", "text": corpus[j]} for j in range(i, min(i + 500, n))]
        body = json.dumps({"items": items}, ensure_ascii=False).encode()
        r = await c.post("/monitoring/ingest/svc", content=body, headers=_signed(secret, body))
        assert r.status_code == 200, r.text
    return n / (time.perf_counter() - started)


async def _high_risk_latency(c: Any, auth: dict[str, str], secret: str, db: Any, client: Any, t: int) -> float:
    """Seconds from posting one high-risk item on a fresh topic to its incident workflow running."""
    from sqlmodel import select
    from temporalio.api.enums.v1 import WorkflowExecutionStatus
    from temporalio.service import RPCError

    from db.models import Incident

    key = f"lat-{t}"
    topic = {"key": key, "name": f"延迟{t}", "groups": {"brand": [f"恒星{t}号"]}, "tier": "daily"}
    await c.post("/monitoring/topics", headers=auth, json=topic)
    item = {
        "external_id": f"h-{t}",
        "text": f"恒星{t}号充电起火爆炸，烫伤孩子，我们要起诉维权！",
        "author_followers": 3_000_000,
        "engagement": 9000,
        "reposts": 3000,
    }
    body = json.dumps({"items": [item]}, ensure_ascii=False).encode()
    started = time.perf_counter()
    r = await c.post("/monitoring/ingest/svc", content=body, headers=_signed(secret, body))
    assert r.json()["high_risk"], r.text
    running = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    while True:
        with db.session() as s:
            row = s.exec(select(Incident).where(Incident.topic == key)).first()
        if row is not None:
            try:
                desc = await client.get_workflow_handle(row.workflow_id).describe()
                if desc.raw_description.workflow_execution_info.status == running:
                    return time.perf_counter() - started
            except RPCError:  # not started yet
                pass
        await asyncio.sleep(0.01)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--texts", type=int, default=100_000)
    p.add_argument("--keywords", type=int, default=10_000)
    p.add_argument("--naive-sample", type=int, default=2_000)
    p.add_argument("--ingest", type=int, default=10_000)
    p.add_argument("--trials", type=int, default=20)
    a = p.parse_args()
    quiet_logs()
    out = bench_analysis(a.texts, a.keywords, a.naive_sample)
    out.update(asyncio.run(bench_ingest_and_latency(a.ingest, a.trials)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
