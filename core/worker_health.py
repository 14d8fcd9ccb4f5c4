"""``GET /health`` for a worker process (``SOCIALOPS_WORKER_HEALTH_PORT``), for Kubernetes probes.

200 while the worker polls and its Temporal frontend answers the health check, 503 otherwise. A minimal
HTTP/1.0 responder on asyncio streams: the worker needs no web framework for one route.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

CHECK_TIMEOUT_S = 5.0


class WorkerHealthServer:
    def __init__(self, check: Callable[[], Awaitable[dict[str, object]]], host: str, port: int) -> None:
        self._check = check
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self.running = False  # set by the worker while it polls

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), CHECK_TIMEOUT_S)
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            if path.split("?")[0] != "/health":
                status, body = 404, {"ok": False, "error": "not found: the worker serves GET /health only"}
            else:
                body = await self._status()
                status = 200 if body["ok"] else 503
            data = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.0 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _status(self) -> dict[str, object]:
        if not self.running:
            return {"ok": False, "worker": "not polling (starting or stopping)"}
        try:
            details = await asyncio.wait_for(self._check(), CHECK_TIMEOUT_S)
        except Exception as exc:
            return {"ok": False, "worker": "polling", "temporal": f"{type(exc).__name__}: {exc}"[:300]}
        return {"ok": True, "worker": "polling", **details}
