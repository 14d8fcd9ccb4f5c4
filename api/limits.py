"""Request limits, enforced before any route runs: body size, JSON nesting depth, a well-formed Content-Length.

A pure ASGI middleware (like ``api/middleware.py``): it reads the body itself, counting bytes as they
arrive, and answers before routing, authentication or a database session — so a client cannot make the
service hold more than the limit in memory, nor spend a token lookup or a session on a body it will refuse.

- ``Content-Length`` must be ASCII digits; above the limit the answer is 413 at once, nothing read.
- A body sent without a length (chunked) is counted as it streams and refused the moment it passes the
  limit (413).
- Ordinary routes allow ``settings.max_request_bytes`` (1 MiB); the ingest routes (webhook, inbox push,
  campaign entries, manual monitoring items) ``settings.max_ingest_request_bytes`` (10 MiB).
- A body nested deeper than ``settings.max_json_depth`` (arrays and objects) is a 422, as is a body with
  ``NaN`` / ``Infinity``, which Python's JSON parser would accept and JSON does not have.
- An object that repeats a key (ordinary routes) is a 422 naming the key: the parser would silently keep
  the last value.
- Text no database can store is a 422 where it enters: NUL (PostgreSQL refuses it in text and JSON) in
  the path, the query or a JSON string, and unpaired UTF-16 surrogates (``"\\ud800"``), which neither
  SQLite nor PostgreSQL can encode. A header with NUL is a 400.

Every refusal has the API's one error shape ``{"error", "message", "field"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from urllib.parse import unquote_to_bytes

import numpy as np
from starlette.responses import JSONResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, bad_request

_DIGITS = re.compile(rb"[0-9]{1,19}")
# A JSON string (escapes included); what is left after removing them is the document's structure.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_JSON_NUMBERS = re.compile(rb"NaN|Infinity")
# An escape in a JSON string: a backslash after an even run of backslashes (an odd one is literal text).
_ESCAPE = rb"(?<!\\)(?:\\\\)*"
_HIGH, _LOW = rb"\\u[dD][89abAB][0-9a-fA-F]{2}", rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_NUL_ESCAPE = re.compile(_ESCAPE + rb"\\u0000")
# A high surrogate not followed by a low one, or a low one not preceded by a high one.
_LONE_SURROGATE = re.compile(
    _ESCAPE + rb"(?:" + _HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW + rb")"
)
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1
_CHUNK = 1 << 20


def json_depth(structure: bytes, enough: int = 0) -> int:
    """How deeply arrays and objects nest in ``structure`` (a body with its strings removed); any answer
    at most ``enough`` is as good as exact, which skips the count for most bodies."""
    openers = structure.count(b"[") + structure.count(b"{")
    if openers <= enough:
        return openers
    steps = _STEP[np.frombuffer(structure, dtype=np.uint8)]
    deepest, level = 0, 0
    for start in range(0, len(steps), _CHUNK):  # in chunks: bounded memory for a 10 MiB body
        running = np.cumsum(steps[start : start + _CHUNK], dtype=np.int64) + level
        deepest, level = max(deepest, int(running.max())), int(running[-1])
    return deepest


def json_problem(body: bytes, max_depth: int) -> str | None:
    """Why ``body`` is refused before it is parsed, or None. Python's parser would accept NaN and
    Infinity (JSON has neither) and fails deep in its recursion on deep nesting."""
    try:  # JSON is exchanged as UTF-8 (RFC 8259); Python's parser would also guess UTF-16 and UTF-32
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid JSON: not UTF-8 (at byte {exc.start})"
    structure = _STRING.sub(b'""', body)
    if json_depth(structure, enough=max_depth) > max_depth:
        return f"nested deeper than {max_depth} levels of arrays and objects"
    if _NOT_JSON_NUMBERS.search(structure):
        return "not valid JSON: NaN and Infinity are not JSON numbers"
    if _NUL_ESCAPE.search(body):
        return "text may not contain NUL (\\u0000)"
    if _LONE_SURROGATE.search(body):
        return "text may not contain an unpaired UTF-16 surrogate (\\ud800–\\udfff)"
    return None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def duplicate_key(body: bytes) -> str | None:
    """A key an object in ``body`` repeats (``{"text": "a", "text": "b"}``: which one did the sender mean?),
    or None. A body that is not JSON is left to the route's own parser and its 422."""
    try:
        json.loads(body, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        return exc.key
    except ValueError:
        return None
    return None


def _nul_in_query(query_string: bytes) -> str | None:
    """The name of a query parameter whose name or value holds NUL (raw or %00), or None."""
    if b"\x00" not in query_string and b"%00" not in query_string:
        return None
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        if b"\x00" in unquote_to_bytes(name) + b"=" + unquote_to_bytes(value):
            return unquote_to_bytes(name).replace(b"\x00", b"").decode("utf-8", "replace") or "query"
    return "query"


def _refusal(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status)


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        f"the request body is larger than this route accepts ({limit} bytes); send less per request",
        limit_bytes=limit,
    )


class RequestLimitsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_ingest_bytes: int,
        ingest_paths: Iterable[str],
        max_json_depth: int,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_ingest_bytes = max_ingest_bytes
        self.max_json_depth = max_json_depth
        self._ingest: list[Callable[[str], object]] = [compile_path(p)[0].match for p in ingest_paths]

    def limit_for(self, path: str) -> int:
        return self.max_ingest_bytes if any(match(path) for match in self._ingest) else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = scope.get("headers") or []
        if any(b"\x00" in value for _, value in headers):
            await _refusal(ApiError(400, "bad_request", "a header value may not contain NUL"))(
                scope, receive, send
            )
            return
        if "\x00" in scope["path"]:
            await _refusal(bad_request("path", "may not contain NUL (%00)"))(scope, receive, send)
            return
        query_field = _nul_in_query(scope.get("query_string", b""))
        if query_field:
            await _refusal(bad_request(query_field, "may not contain NUL (%00)"))(scope, receive, send)
            return
        lengths = [v for k, v in headers if k.lower() == b"content-length"]
        for value in lengths:
            if not _DIGITS.fullmatch(value.strip()):
                err = ApiError(
                    400, "bad_request", "Content-Length must be a byte count (digits)", field="Content-Length"
                )
                await _refusal(err)(scope, receive, send)
                return
            if int(value) > limit:
                await _refusal(too_large(limit))(scope, receive, send)  # refused unread
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refusal(too_large(limit))(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = json_problem(body, self.max_json_depth) if body else None
        if problem:
            await _refusal(bad_request("body", problem))(scope, receive, send)
            return
        # Ordinary bodies are small: read once more for repeated keys (ingest batches are machine-written).
        repeated = duplicate_key(body) if body and b'"' in body and limit == self.max_bytes else None
        if repeated is not None:
            await _refusal(bad_request(repeated, "appears twice in one JSON object; send it once"))(
                scope, receive, send
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)
