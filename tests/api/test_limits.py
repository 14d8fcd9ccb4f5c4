"""Hostile input (issue 13.1): size limits before any work, bounded integers, byte-wise signatures, strict
headers, JSON depth — each a 4xx with the one error shape, never a 5xx, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from starlette.responses import JSONResponse

from api.app import INGEST_PATHS, create_app, iter_api_routes
from api.limits import RequestLimitsMiddleware, json_problem
from db.engine import Database
from db.models import MonitoredItem
from domain.limits import MAX_COUNT, MAX_ID
from domain.roles import Role
from tests.conftest import free_port, make_user, test_settings

MIB = 1024 * 1024


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    settings = test_settings(database, temporal_address=f"127.0.0.1:{free_port()}")
    with TestClient(create_app(settings, db=database)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(r: httpx.Response, status: int, error: str, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert {"error", "message", "field"} <= body.keys() and body["error"] == error, body
    if field is not None:
        assert body["field"] == field, body
    return body


# --- size limits ----------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_before_authentication(client: TestClient, database: Database) -> None:
    big = b'{"name": "' + b"x" * MIB + b'"}'
    r = client.post("/users", content=big, headers={"content-type": "application/json"})  # no token at all
    body = assert_error(r, 413, "payload_too_large")
    assert body["limit_bytes"] == MIB and r.headers["x-request-id"]
    # Checked before the token: a revoked token gets 413 too, where any smaller body gets 401.
    admin = make_user(database, "root", Role.admin)
    client.post("/tokens/revoke-mine", headers=bearer(admin))
    r = client.post("/users", content=big, headers={**bearer(admin), "content-type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    r = client.post("/users", json={"name": "x"}, headers=bearer(admin))
    assert_error(r, 401, "unauthenticated")


def test_ingest_routes_take_more_and_stop_at_their_own_limit(client: TestClient, database: Database) -> None:
    pa = make_user(database, "pa", Role.platform_admin)
    two_mib = {"items": [{"external_id": f"e{i}", "text": "好" * 2000} for i in range(400)]}
    assert len(json.dumps(two_mib, ensure_ascii=False).encode()) > 2 * MIB
    r = client.post("/inbox/ingest/weibo/nobody", json=two_mib, headers=bearer(pa))
    assert_error(r, 404, "not_found")  # past the 1 MiB of ordinary routes: the route itself answers
    r = client.post("/users", json=two_mib, headers=bearer(pa))
    assert_error(r, 413, "payload_too_large")
    r = client.post("/inbox/ingest/weibo/nobody", content=b" " * (10 * MIB + 1), headers=bearer(pa))
    assert r.json()["limit_bytes"] == 10 * MIB and r.status_code == 413


def test_every_ingest_path_is_a_route() -> None:
    paths = {r.path for r in iter_api_routes(create_app(test_settings(Database("sqlite://"))).routes)}
    assert INGEST_PATHS <= paths


async def _asgi(
    app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes], path: str = "/users"
) -> tuple[int, dict[str, Any], int]:
    """Send a request straight through ASGI (chunked when no Content-Length is given); returns the status,
    the body and how many body chunks the app asked for."""
    pending = list(chunks)
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not pending:
            await asyncio.sleep(3600)
        asked += 1
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"t"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), asked


async def test_a_chunked_body_is_counted_as_it_streams_and_cut_at_the_limit() -> None:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:  # what the limits protect
        reached.append(scope["path"])
        message = await receive()
        await JSONResponse({"read": len(message["body"])})(scope, receive, send)

    limited = RequestLimitsMiddleware(
        app, max_bytes=1000, max_ingest_bytes=5000, ingest_paths=["/in/{x}"], max_json_depth=8
    )
    status, body, asked = await _asgi(limited, [], [b"[" + b"1," * 300, b"1," * 300, b"1]"] + [b" "] * 50)
    assert status == 413 and body["error"] == "payload_too_large" and body["limit_bytes"] == 1000
    assert asked == 2 and reached == []  # refused at the chunk that passed the limit, the rest never read
    status, body, _ = await _asgi(limited, [(b"content-length", b"99999")], [b"{}"])
    assert status == 413 and reached == []
    for bad in (b"12a", b"-1", b"\xb2", b"1" * 30, b""):
        status, body, _ = await _asgi(limited, [(b"content-length", bad)], [b"{}"])
        assert status == 400 and body["field"] == "Content-Length", bad
    status, body, _ = await _asgi(limited, [], [b"[" + b"1," * 600, b"1]"], path="/in/abc")
    assert (status, body, reached) == (200, {"read": 1203}, ["/in/abc"])  # the ingest path's larger limit


# --- JSON ------------------------------------------------------------------------------------------


def test_deep_or_non_standard_json_is_422_before_parsing(client: TestClient, database: Database) -> None:
    admin = make_user(database, "root", Role.admin)
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 40 + b"1" + b"}" * 40):
        r = client.post("/users", content=body, headers={**bearer(admin), "content-type": "application/json"})
        assert "nested deeper than 32" in assert_error(r, 422, "validation_error", "body")["message"]
    r = client.post(
        "/users",
        content=b'{"name": "a", "roles": ["admin"], "x": NaN}',
        headers={"content-type": "application/json"},
    )
    assert "NaN" in assert_error(r, 422, "validation_error", "body")["message"]
    ok = {
        "name": "li",
        "display_name": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ NaN",
        "roles": ["marketing"],
    }
    assert client.post("/users", json=ok, headers=bearer(admin)).status_code == 201  # inside a string: text
    r = client.post(
        "/users", content=b'{"name": "\xff\xfe"}', headers={**bearer(admin), "content-type": "application/json"}
    )
    assert "not UTF-8" in assert_error(r, 422, "validation_error", "body")["message"]


def test_a_bad_path_id_is_reported_once(client: TestClient, database: Database) -> None:
    admin = make_user(database, "root", Role.admin, Role.content_creator)
    r = client.post("/content/abc/submit", json={}, headers=bearer(admin))
    body = assert_error(r, 422, "validation_error", "content_id")
    assert [f["field"] for f in body["fields"]] == ["content_id"]


def test_a_repeated_key_is_422_naming_it_and_nothing_is_written(client: TestClient, database: Database) -> None:
    admin = make_user(database, "root", Role.admin)
    body = b'{"name": "zhao", "display_name": "\xe8\xb5\xb5", "roles": ["marketing"], "name": "qian"}'
    r = client.post("/users", content=body, headers={**bearer(admin), "content-type": "application/json"})
    assert "appears twice" in assert_error(r, 422, "validation_error", "name")["message"]
    nested = b'{"name": "sun", "roles": ["marketing"], "x": {"a": 1, "a": 2}}'
    r = client.post("/users", content=nested, headers={**bearer(admin), "content-type": "application/json"})
    assert_error(r, 422, "validation_error", "a")
    names = {u["name"] for u in client.get("/users", headers=bearer(admin)).json()}
    assert not names & {"zhao", "qian", "sun"}
    same_in_two_objects = {"name": "li", "display_name": "李", "roles": ["marketing"]}
    assert client.post("/users", json=same_in_two_objects, headers=bearer(admin)).status_code == 201


def test_text_no_database_can_store_is_422_where_it_enters(client: TestClient, database: Database) -> None:
    """NUL (PostgreSQL refuses it in text and JSON) and unpaired surrogates (no UTF-8 for them)."""
    agent = make_user(database, "agent", Role.interaction_agent, Role.risk_compliance)
    h = {**bearer(agent), "content-type": "application/json"}
    for raw in (b'{"question": "a\\u0000b", "answer": "x"}', b'{"question": "\\ud83d", "answer": "x"}'):
        r = client.post("/faq", content=raw, headers=h)
        assert_error(r, 422, "validation_error", "body")
    r = client.post("/faq", json={"question": "a\\u0000b 😀", "answer": "x"}, headers=h)  # literal text
    assert r.status_code == 201 and r.json()["question"] == "a\\u0000b 😀", r.text
    assert_error(client.get("/monitoring/items?source=a%00b", headers=h), 422, "validation_error", "source")
    assert_error(client.get("/monitoring/topics/a%00b/state", headers=h), 422, "validation_error", "path")


def test_json_problem_skips_strings_with_escaped_quotes() -> None:
    assert json_problem(b'{"a": "\\"[[[[[[[[[[", "b": [1]}', 2) is None
    assert json_problem(b'[[[["x"]]]]', 3) is not None
    assert json_problem(b'{"n": 1e5, "m": -0.5}', 3) is None


# --- bounded integers -----------------------------------------------------------------------------


def test_ids_out_of_range_are_422_naming_the_parameter(client: TestClient, database: Database) -> None:
    admin = make_user(database, "root", Role.admin, Role.risk_compliance)
    for path in (f"/users/{MAX_ID + 1}", f"/users/{2**63}", "/users/0", "/content/-1", f"/incidents/{10**30}"):
        r = client.get(path, headers=bearer(admin))
        assert r.status_code == 422 and r.json()["field"] in ("user_id", "content_id", "incident_id"), path
    assert_error(client.get(f"/users/{MAX_ID}", headers=bearer(admin)), 404, "not_found")
    r = client.get(f"/audit?before_id={2**64}", headers=bearer(admin))
    assert_error(r, 422, "validation_error", "before_id")
    r = client.get(f"/content/calendar.ics?user={2**64}&key=x")
    assert_error(r, 422, "validation_error", "user")


def test_counts_beyond_the_column_are_422_and_the_largest_is_stored(
    client: TestClient, database: Database
) -> None:
    rc = make_user(database, "rc", Role.risk_compliance)
    too_many = {"items": [{"external_id": "a", "text": "恒星", "author_followers": MAX_COUNT + 1}]}
    r = client.post("/monitoring/items", json=too_many, headers=bearer(rc))
    assert_error(r, 422, "validation_error", "items.0.author_followers")
    largest = {
        "items": [{"external_id": "b", "text": "恒星", "author_followers": MAX_COUNT, "reposts": MAX_COUNT}]
    }
    assert client.post("/monitoring/items", json=largest, headers=bearer(rc)).status_code == 201
    with database.session() as s:
        row = s.exec(select(MonitoredItem).where(MonitoredItem.external_id == "b")).one()
    assert (row.author_followers, row.reposts) == (MAX_COUNT, MAX_COUNT)


# --- signatures and headers -----------------------------------------------------------------------


@pytest.fixture
async def webhook(database: Database) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    rc = make_user(database, "rc", Role.risk_compliance)
    app = create_app(test_settings(database, temporal_address=f"127.0.0.1:{free_port()}"), db=database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/monitoring/sources", json={"key": "svc", "kind": "webhook"}, headers=bearer(rc))
        yield c, r.json()["secret"]


def _raw(headers: dict[str, str]) -> dict[str, bytes]:
    """Header values as the bytes a client puts on the wire (latin-1 where possible, as servers decode)."""
    return {k: v.encode("latin-1") if all(ord(ch) < 256 for ch in v) else v.encode() for k, v in headers.items()}


def _signed(secret: str, body: bytes, ts: str | None = None) -> dict[str, str]:
    t = ts if ts is not None else str(int(time.time()))
    sig = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Socialops-Timestamp": t, "X-Socialops-Signature": sig, "content-type": "application/json"}


async def test_webhook_signature_and_timestamp_are_strict(webhook: tuple[httpx.AsyncClient, str]) -> None:
    c, secret = webhook
    body = json.dumps({"items": [{"external_id": "1", "text": "恒星不错"}]}).encode()
    url = "/monitoring/ingest/svc"
    for sig in ("é" * 64, "签名".encode().decode("latin-1"), "sha256=" + "ÿ" * 64):
        r = await c.post(url, content=body, headers=_raw({**_signed(secret, body), "X-Socialops-Signature": sig}))
        assert_error(r, 401, "bad_signature", "X-Socialops-Signature")
    for ts in ("²", "١٢٣", "1" * 5000, "+1", " 1", "1.5", ""):
        r = await c.post(url, content=body, headers=_raw(_signed(secret, body, ts)))
        assert_error(r, 401, "bad_signature", "X-Socialops-Timestamp")
    # Signed but not JSON, or not the shape: 422 naming the field (parsed only after the signature held).
    for bad, field in (
        (b"\xff{", "body"),
        (b'{"items": 3}', "items"),
        (b'{"items": [{"text": "x"}]}', "items.0.external_id"),
    ):
        assert_error(await c.post(url, content=bad, headers=_signed(secret, bad)), 422, "validation_error", field)
    unsigned_garbage = b"[" * 10 + b"]" * 10
    r = await c.post(url, content=unsigned_garbage, headers={"X-Socialops-Timestamp": str(int(time.time()))})
    assert_error(r, 401, "bad_signature")  # a bad body with a bad signature is not even parsed
    r = await c.post(url, content=body, headers=_signed(secret, body))
    assert r.status_code == 200 and r.json()["stored"] == 1, r.text


def test_calendar_feed_key_with_non_ascii_is_401(client: TestClient, database: Database) -> None:
    token = make_user(database, "li", Role.ops_head)
    me = client.get("/me", headers=bearer(token)).json()
    for key in ("é" * 32, "密钥", "x"):
        r = client.get("/content/calendar.ics", params={"user": me["id"], "key": key})
        assert_error(r, 401, "unauthenticated")
    url = client.get("/content/calendar-feed", headers=bearer(token)).json()["url"]
    assert client.get(url.removeprefix("http://testserver")).status_code == 200


# --- durations and calendars ----------------------------------------------------------------------


def test_durations_in_plans_policies_and_drills_are_valid_and_bounded(
    client: TestClient, database: Database
) -> None:
    rc = make_user(database, "rc", Role.risk_compliance, Role.ops_head)
    plan = client.get("/incident-plans", headers=bearer(rc)).json()[0]["plan"]
    for value in ("PT0S", "-PT1H", "P31D", "P999999999D", "forever"):
        r = client.post(
            "/incident-plans/low", json={"plan": {**plan, "follow_up_every": value}}, headers=bearer(rc)
        )
        assert_error(r, 422, "validation_error", "plan.follow_up_every")
    r = client.post("/incident-plans/low", json={"plan": {**plan, "follow_up_every": "P30D"}}, headers=bearer(rc))
    assert r.status_code == 201, r.text
    policy = client.get("/inbox/policy", headers=bearer(rc)).json()
    for change, field in (
        ({"sla_hours": {"default": 0}}, "sla_hours.default"),
        ({"sla_hours": {"default": 1e308}}, "sla_hours.default"),
        ({"sla_hours": {"urgent": 1}}, "sla_hours"),
        ({"calendar": {**policy["calendar"], "workdays": []}}, "calendar.workdays"),
        ({"calendar": {**policy["calendar"], "workdays": [7]}}, "calendar.workdays.0"),
        ({"calendar": {**policy["calendar"], "timezone": "Mars/Olympus"}}, "calendar.timezone"),
        ({"calendar": {**policy["calendar"], "holidays": ["2026-02-30"]}}, "calendar.holidays.0"),
        ({"calendar": {**policy["calendar"], "start_hour": 18, "end_hour": 9}}, "calendar.end_hour"),
    ):
        r = client.put("/inbox/policy", json={**policy, **change}, headers=bearer(rc))
        assert_error(r, 422, "validation_error", field)
    for duration in ("P8D", "PT0S", "-PT1S"):  # a few seconds is a fine drill (the dev-server test runs one)
        drill = {"key": "q", "scenario": {"name": "演练", "duration": duration}}
        r = client.post("/drill-schedules", json=drill, headers=bearer(rc))
        assert_error(r, 422, "validation_error", "scenario.duration")  # refused before Temporal is asked
    for calendar, field in (({"months": [13]}, "calendar.months.0"), ({"months": []}, "calendar.months")):
        r = client.post(
            "/drill-schedules",
            json={**drill, "scenario": {"name": "演练"}, "calendar": calendar},
            headers=bearer(rc),
        )
        assert_error(r, 422, "validation_error", field)
    r = client.post(
        "/drill-schedules", json={**drill, "scenario": {"name": "演练"}, "timezone": "../etc"}, headers=bearer(rc)
    )
    assert_error(r, 422, "validation_error", "timezone")
