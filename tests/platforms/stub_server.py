"""Running a platform stub over real HTTP: a Starlette app under uvicorn on a free port, in a thread.

A stub is a plain object with ``handle(StubRequest) -> Reply``; ``serve(stub)`` puts it on the network.
Multipart bodies are parsed with the standard library (no python-multipart on this machine).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Protocol

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class StubRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    form: dict[str, Any] = field(default_factory=dict)  # name → str, or (filename, bytes) for a file
    raw_query: str = ""  # as sent, before decoding (to check a client URL-encodes what it must)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            return None


@dataclass
class Reply:
    payload: Any
    status: int = 200
    hang_s: float = 0.0  # answer only after this long: the client times out, the effect stays


class Stub(Protocol):
    def handle(self, req: StubRequest) -> Reply: ...


def parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    out: dict[str, Any] = {}
    if not msg.is_multipart():
        return out
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        raw = part.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else b""
        filename = part.get_filename()
        out[str(name)] = (filename, data) if filename is not None else data.decode()
    return out


class StubServer:
    def __init__(self, stub: Stub) -> None:
        self.stub = stub
        lock = threading.Lock()

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            ctype = request.headers.get("content-type", "")
            form: dict[str, Any] = {}
            if ctype.startswith("multipart/form-data"):
                form = parse_multipart(body, ctype)
            elif ctype.startswith("application/x-www-form-urlencoded"):
                from urllib.parse import parse_qsl

                form = dict(parse_qsl(body.decode()))
            req = StubRequest(
                method=request.method,
                path="/" + request.path_params["path"],
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                form=form,
                raw_query=request.url.query,
            )
            with lock:
                reply = stub.handle(req)
            if reply.hang_s:
                await anyio.sleep(reply.hang_s)
            return Response(
                json.dumps(reply.payload, ensure_ascii=False),
                status_code=reply.status,
                media_type="application/json",
            )

        app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST", "PUT", "DELETE"])])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("stub server did not start")
            time.sleep(0.01)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def ok(payload: dict[str, Any]) -> Reply:
    return Reply(payload)
