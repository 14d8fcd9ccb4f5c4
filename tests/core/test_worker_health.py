"""The worker's GET /health (SOCIALOPS_WORKER_HEALTH_PORT) for Kubernetes probes."""

from __future__ import annotations

import httpx

from core.worker_health import WorkerHealthServer


async def test_health_follows_the_worker_and_temporal() -> None:
    temporal_up = {"ok": True}

    async def check() -> dict[str, object]:
        if not temporal_up["ok"]:
            raise RuntimeError("connection refused")
        return {"temporal": "ok"}

    server = WorkerHealthServer(check, "127.0.0.1", 0)
    await server.start()
    url = f"http://127.0.0.1:{server.port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            r = await http.get("/health")
            assert r.status_code == 503 and "not polling" in r.json()["worker"]  # before the worker runs
            server.running = True
            r = await http.get("/health")
            assert r.status_code == 200 and r.json() == {"ok": True, "worker": "polling", "temporal": "ok"}
            temporal_up["ok"] = False
            r = await http.get("/health")
            assert r.status_code == 503 and "connection refused" in r.json()["temporal"]
            assert (await http.get("/other")).status_code == 404
    finally:
        await server.stop()
