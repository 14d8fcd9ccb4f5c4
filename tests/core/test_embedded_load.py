"""The embedded stack under a burst: 20 incident reports and 20 inbox actions at once all succeed, and
``/health`` answers in the middle of them (was: SQLite "database is locked" froze every request while a
write was held across an await of Temporal)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.core.test_embedded import SOCIALOPS, _env, _wait_healthy
from tests.waiting import until


def _up(tmp_path: Path, api: int, grpc: int, ui: int) -> tuple[subprocess.Popen[str], Path]:
    log = tmp_path / "up.log"  # a file, not a pipe: a test reading a pipe too slowly would stall the stack
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [SOCIALOPS, "up", "--api-port", str(api), "--temporal-port", str(grpc), "--ui-port", str(ui)],
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return proc, log


async def test_a_burst_of_reports_and_inbox_actions_all_succeed(tmp_path: Path) -> None:
    api, grpc, ui = free_port(), free_port(), free_port()
    proc, log = _up(tmp_path, api, grpc, ui)
    base = f"http://127.0.0.1:{api}"
    try:
        _wait_healthy(f"{base}/health", proc)
        await until(lambda: "socialops is running" in log.read_text(), "the banner", timeout=60)
        admin = next(w for w in log.read_text().split() if w.startswith("sop_"))
        async with httpx.AsyncClient(base_url=base, timeout=120) as c:
            tokens = {}
            for name, roles in (
                ("lead", ["ops_head"]),
                ("pa", ["platform_admin"]),
                ("agent", ["interaction_agent"]),
            ):
                r = await c.post(
                    "/users", json={"name": name, "roles": roles}, headers={"Authorization": f"Bearer {admin}"}
                )
                assert r.status_code == 201, r.text
                tokens[name] = r.json()["token"]
            r = await c.post(
                "/platform-accounts",
                json={"platform": "weibo", "handle": "load_weibo"},
                headers={"Authorization": f"Bearer {tokens['pa']}"},
            )
            assert r.status_code == 201, r.text

            def auth(who: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {tokens[who]}"}

            reports = [
                c.post(
                    "/incidents",
                    json={"title": f"门店投诉事件 {i}", "description": "顾客称被怠慢"},
                    headers=auth("lead"),
                )
                for i in range(20)
            ]
            pushes = [
                c.post(
                    "/inbox/ingest/weibo/load_weibo",
                    json={
                        "items": [
                            {"external_id": f"load-{i}", "text": f"第{i}单的发票怎么开？", "author": f"客户{i}"}
                        ]
                    },
                    headers=auth("pa"),
                )
                for i in range(20)
            ]
            healths: list[float] = []

            async def probe() -> None:
                for _ in range(10):
                    t = time.monotonic()
                    r = await c.get("/health", timeout=30)  # a blocked event loop would not answer at all
                    assert r.status_code in (200, 503)
                    healths.append(time.monotonic() - t)
                    await asyncio.sleep(0.2)

            results = await asyncio.gather(*reports, *pushes, probe())
            answers = results[:-1]
            assert [r.status_code for r in answers] == [201] * 20 + [200] * 20, [
                r.text for r in answers if r.status_code >= 300
            ]
            assert len(healths) == 10
            listed = (await c.get("/incidents?limit=100", headers=auth("lead"))).json()
            assert len({i["id"] for i in listed}) == 20
            audit = (
                await c.get(
                    "/audit?action=incident.report&limit=100", headers={"Authorization": f"Bearer {admin}"}
                )
            ).json()
            assert len(audit) == 20  # every change has its audit row

            async def all_listed() -> bool:
                items = (await c.get("/inbox?include_closed=true&limit=100", headers=auth("agent"))).json()
                return len([i for i in items if i["external_id"].startswith("load-")]) == 20

            for _ in range(120):
                if await all_listed():
                    break
                await asyncio.sleep(0.5)
            assert await all_listed()
            items = (await c.get("/inbox?include_closed=true&limit=100", headers=auth("agent"))).json()
            actions = [
                c.post(
                    f"/inbox/{i['id']}/snooze", json={"until": "2099-01-01T00:00:00+08:00"}, headers=auth("agent")
                )
                for i in items
                if i["external_id"].startswith("load-")
            ]
            snoozed = await asyncio.gather(*actions)
            assert all(r.status_code == 200 for r in snoozed), [r.text for r in snoozed if r.status_code != 200]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
