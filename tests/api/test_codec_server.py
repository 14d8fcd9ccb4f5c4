"""The codec endpoints the Temporal UI calls: signed-in users with a configured role may decode; the JSON is
Temporal's codec-server shape; a configured UI origin gets CORS (preflight without a token, errors too)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from temporalio.api.common.v1 import Payload

from api.app import create_app
from core.codec import codec_from_spec, new_key_spec
from db.engine import Database
from domain.roles import Role
from tests.conftest import make_user, test_settings

UI = "https://temporal.example.com"
SECRET = "王小明 13800138000"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plain_json(text: str = SECRET) -> dict[str, Any]:
    return {"metadata": {"encoding": b64(b"json/plain")}, "data": b64(f'"{text}"'.encode())}


@pytest.fixture
def keys() -> str:
    return new_key_spec("k1")


@pytest.fixture
def client(sqlite_database: Database, keys: str) -> TestClient:
    settings = test_settings(
        sqlite_database, payload_keys=keys, codec_roles=["admin", "risk_compliance"], codec_cors_origins=[UI]
    )
    return TestClient(create_app(settings, db=sqlite_database))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _sealed(keys: str, text: str = SECRET) -> dict[str, Any]:
    codec = codec_from_spec(keys)
    assert codec is not None
    (p,) = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())])
    return {"metadata": {k: b64(v) for k, v in p.metadata.items()}, "data": b64(p.data)}


async def test_decode_needs_a_token_and_a_configured_role(
    client: TestClient, sqlite_database: Database, keys: str
) -> None:
    body = {"payloads": [await _sealed(keys)]}
    r = client.post("/codec/decode", json=body)
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated"
    r = client.post("/codec/decode", json=body, headers=bearer("sop_not-a-token"))
    assert r.status_code == 401

    creator = make_user(sqlite_database, "cc", Role.content_creator, Role.ops_head)
    r = client.post("/codec/decode", json=body, headers=bearer(creator))
    assert r.status_code == 403
    assert r.json()["required_roles"] == ["admin", "risk_compliance"] and SECRET not in r.text
    assert (
        client.post("/codec/encode", json={"payloads": [plain_json()]}, headers=bearer(creator)).status_code == 403
    )

    rc = make_user(sqlite_database, "rc", Role.risk_compliance)
    r = client.post("/codec/decode", json=body, headers={**bearer(rc), "X-Namespace": "default"})
    assert r.status_code == 200, r.text
    (out,) = r.json()["payloads"]
    assert base64.b64decode(out["metadata"]["encoding"]) == b"json/plain"
    assert base64.b64decode(out["data"]).decode() == f'"{SECRET}"'


async def test_encode_then_decode_round_trips_and_plain_passes_through(
    client: TestClient, sqlite_database: Database
) -> None:
    admin = bearer(make_user(sqlite_database, "root", Role.admin))
    r = client.post("/codec/encode", json={"payloads": [plain_json()]}, headers=admin)
    assert r.status_code == 200
    (sealed,) = r.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == b"binary/encrypted"
    assert SECRET.encode() not in base64.b64decode(sealed["data"])
    r = client.post("/codec/decode", json={"payloads": [sealed, plain_json("旧的明文")]}, headers=admin)
    assert [base64.b64decode(p["data"]).decode() for p in r.json()["payloads"]] == [f'"{SECRET}"', '"旧的明文"']


async def test_bad_bodies_and_unknown_keys_are_4xx(client: TestClient, sqlite_database: Database) -> None:
    admin = bearer(make_user(sqlite_database, "root", Role.admin))
    r = client.post("/codec/decode", content=b"not json", headers={**admin, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == "body"
    r = client.post("/codec/decode", json={"payloads": [{"metadata": 1}]}, headers=admin)
    assert r.status_code == 422
    foreign = await _sealed(new_key_spec("other"))
    r = client.post("/codec/decode", json={"payloads": [foreign]}, headers=admin)
    assert r.status_code == 422 and r.json()["error"] == "undecryptable_payload" and "'other'" in r.text


def test_cors_for_the_configured_ui_origin_only(client: TestClient) -> None:
    preflight = {"Origin": UI, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x"}
    r = client.options("/codec/decode", headers=preflight)  # no token: browsers send none with a preflight
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == UI
    assert "authorization" in r.headers["access-control-allow-headers"]
    assert "x-namespace" in r.headers["access-control-allow-headers"]
    r = client.options("/codec/decode", headers={**preflight, "Origin": "https://evil.example"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    # The UI can read the refusal (the CORS headers are on errors too); another origin gets none.
    r = client.post("/codec/decode", json={"payloads": []}, headers={"Origin": UI})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == UI
    r = client.post("/codec/decode", json={"payloads": []}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in client.get("/health", headers={"Origin": UI}).headers


def test_without_keys_the_codec_is_the_identity(sqlite_database: Database) -> None:
    client = TestClient(create_app(test_settings(sqlite_database), db=sqlite_database))
    admin = bearer(make_user(sqlite_database, "root", Role.admin))
    for path in ("/codec/encode", "/codec/decode"):
        r = client.post(path, json={"payloads": [plain_json()]}, headers=admin)
        assert r.status_code == 200 and r.json()["payloads"] == [plain_json()]


async def test_the_web_ui_signs_in_once_with_a_cookie_that_ends_with_its_token(
    client: TestClient, sqlite_database: Database, keys: str
) -> None:
    """The Temporal UI sends cookies (TEMPORAL_CODEC_INCLUDE_CREDENTIALS), never our tokens."""
    body = {"payloads": [await _sealed(keys)]}
    page = client.get("/codec/sign-in")
    assert page.status_code == 200 and "API 令牌" in page.text and page.headers["cache-control"] == "no-store"

    creator = make_user(sqlite_database, "cc", Role.content_creator)
    r = client.post("/codec/session", headers=bearer(creator))
    assert r.status_code == 403 and "socialops_codec" not in r.cookies

    rc = make_user(sqlite_database, "rc", Role.risk_compliance)
    r = client.post("/codec/session", headers={**bearer(rc), "Origin": UI})
    assert r.status_code == 200 and r.json()["user"] == "rc"
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "path=/codec" in set_cookie and "samesite=lax" in set_cookie
    assert rc not in r.headers["set-cookie"]  # the cookie is not the token

    # The UI's call: the cookie and no Authorization header.
    r = client.post("/codec/decode", json=body, headers={"Origin": UI, "X-Namespace": "default"})
    assert r.status_code == 200, r.text
    assert base64.b64decode(r.json()["payloads"][0]["data"]).decode() == f'"{SECRET}"'
    assert r.headers["access-control-allow-credentials"] == "true"
    # Only on JSON: a plain form post (no CORS preflight) from a foreign page is refused.
    r = client.post("/codec/decode", content=b'{"payloads": []}', headers={"content-type": "text/plain"})
    assert r.status_code == 401 and "application/json" in r.json()["message"]

    # A tampered cookie, then a revoked token, end the sign-in.
    good = client.cookies["socialops_codec"]
    client.cookies.set("socialops_codec", good[:-1] + ("0" if good[-1] != "0" else "1"), path="/codec")
    assert client.post("/codec/decode", json=body).status_code == 401
    client.cookies.set("socialops_codec", good, path="/codec")
    assert client.post("/codec/decode", json=body).status_code == 200
    from db.accounts import get_user_by_name, revoke_tokens

    with sqlite_database.session() as s:
        user = get_user_by_name(s, "rc")
        assert user is not None and user.id is not None
        revoke_tokens(s, user.id)
        s.commit()
    r = client.post("/codec/decode", json=body)
    assert r.status_code == 401 and "/codec/sign-in" in r.json()["message"]


async def test_a_codec_cookie_expires_and_signs_out(
    client: TestClient, sqlite_database: Database, keys: str
) -> None:
    import time

    from api.routes import codec as codec_routes
    from db.accounts import authenticate

    admin = make_user(sqlite_database, "root", Role.admin)
    body = {"payloads": [await _sealed(keys)]}
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with sqlite_database.session() as s:
        principal = authenticate(s, admin)
        assert principal is not None
        from db.accounts import hash_token

        stale, _ = codec_routes.session_cookie(settings, principal, hash_token(admin), time.time() - 9 * 3600)
    client.cookies.set("socialops_codec", stale, path="/codec")
    assert client.post("/codec/decode", json=body).status_code == 401  # 8 h by default

    assert client.post("/codec/session", headers=bearer(admin)).status_code == 200
    assert client.post("/codec/decode", json=body).status_code == 200
    r = client.delete("/codec/session", headers={"content-type": "application/json"})
    assert r.status_code == 204 and "socialops_codec=" in r.headers["set-cookie"]
    assert client.post("/codec/decode", json=body).status_code == 401
