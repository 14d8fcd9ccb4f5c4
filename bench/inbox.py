"""Inbox benchmark: prints one JSON line. Run: ``python -m bench.inbox [--open 10000]``.

(a) classification throughput (intent + sentiment + spam signals, with reasons) on Chinese comments;
(b) how many open interaction workflows, each waiting on its SLA timers, one worker holds against the
    Temporal dev server, how long starting them took, and the worker process's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

from bench.corpus import COMMON
from bench.harness import dev_server, quiet_logs


def inbox_texts(n: int, seed: int = 3) -> list[str]:
    from connectors.sandbox import _TRAFFIC

    rng = random.Random(seed)
    return [
        rng.choice(_TRAFFIC)[1] + "".join(rng.choice(COMMON) for _ in range(rng.randint(0, 30))) for _ in range(n)
    ]


def bench_classify(n: int) -> dict[str, float]:
    from domain.inbox import AuthorContext, classify
    from domain.sentiment import default_model

    model = default_model()
    texts = inbox_texts(n)
    ctx = [AuthorContext()] * len(texts)
    started = time.perf_counter()
    for i in range(0, n, 1000):
        classify(texts[i : i + 1000], ctx[i : i + 1000], model)
    return {"classify_items_per_s": round(n / (time.perf_counter() - started)), "classify_items": n}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def bench_open(n: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="socialops-inbox-bench-"))
    out: dict[str, float] = {}
    try:
        await _open(n, tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


async def _open(n: int, tmp: Path, out: dict[str, float]) -> None:
    from sqlmodel import col, func, select

    from connectors.sandbox import SandboxPlatform
    from core.dispatch import dispatch
    from core.registry import Dependencies
    from core.settings import Settings
    from core.temporal import connect
    from db import migrate
    from db.engine import Database
    from db.inbox import store_items
    from db.models import InboxPolicyRow, Interaction
    from domain import ids
    from domain.inbox import InboxPolicy
    from domain.kernel import Platform, WorkCalendarConfig
    from worker import build_worker

    async with dev_server(tmp) as address:
        db = Database(f"sqlite:///{tmp / 'bench.db'}")
        migrate.upgrade(db.engine)
        with db.session() as s:
            row = s.get(InboxPolicyRow, 1)
            assert row is not None
            always = WorkCalendarConfig(start_hour=0, end_hour=24, workdays=list(range(7)))
            row.policy = InboxPolicy(calendar=always).model_dump(mode="json")
            s.add(row)
            s.commit()
        settings = Settings(database_url=db.url, temporal_address=address, task_queue="inbox-bench")
        client = await connect(settings)
        sandbox = SandboxPlatform(f"sqlite:///{tmp / 'sandbox.db'}")
        rss_before = rss_mb()
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            async with build_worker(
                client, "inbox-bench", Dependencies(db=db, connectors={"sandbox": sandbox}), ex
            ):
                sem = asyncio.Semaphore(64)

                async def one(sem: asyncio.Semaphore, inp: object) -> None:
                    async with sem:
                        key = ids.interaction(inp.platform, inp.external_id)  # type: ignore[attr-defined]
                        await dispatch(client, db, "inbox-bench", keys=[key])

                started = time.perf_counter()
                for i in range(0, n, 500):
                    items = [
                        {
                            "external_id": f"b-{j}",
                            "kind": "dm",
                            "author": f"u{j}",
                            "text": f"快递坏了，我要投诉退款，订单{j}",
                        }
                        for j in range(i, min(i + 500, n))
                    ]
                    inputs = store_items(db, Platform.weibo, "bench", items)
                    await asyncio.gather(*(one(sem, x) for x in inputs))
                open_now = 0
                for _ in range(3600):
                    with db.session() as s:
                        open_now = s.exec(
                            select(func.count())
                            .select_from(Interaction)
                            .where(col(Interaction.status).in_(["waiting", "assigned"]))
                        ).one()
                    if open_now >= n:
                        break
                    await asyncio.sleep(1)
                elapsed = time.perf_counter() - started
                listed = 0
                async for _ in client.list_workflows(
                    "WorkflowType = 'InteractionWorkflow' AND ExecutionStatus = 'Running'"
                ):
                    listed += 1
                rss_after = rss_mb()
        sandbox.engine.dispose()
        db.dispose()
    out.update(
        {
            "open_workflows": int(listed),
            "open_in_projection": int(open_now),
            "start_and_settle_s": round(elapsed, 1),
            "workflows_per_s": round(n / elapsed, 1),
            "worker_rss_mb": rss_after,
            "worker_rss_before_mb": rss_before,
        }
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classify", type=int, default=50_000)
    p.add_argument("--open", type=int, default=10_000)
    a = p.parse_args()
    quiet_logs()
    out = bench_classify(a.classify)
    out.update(asyncio.run(bench_open(a.open)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
