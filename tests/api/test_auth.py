from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import PUBLIC_PATHS, SELF_AUTHENTICATED_PATHS, create_app, iter_api_routes
from core.logging import configure_logging
from db import audit
from db.engine import Database
from db.models import ApiToken, AuditLog
from domain.roles import Role
from tests.conftest import make_user, test_settings


@pytest.fixture
def client(database: Database) -> TestClient:
    return TestClient(create_app(test_settings(database), db=database))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_missing_token_is_401_with_clear_body(client: TestClient) -> None:
    r = client.get("/users")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "unauthenticated"
    assert "Authorization: Bearer" in r.json()["message"]


def test_invalid_token_is_401(client: TestClient) -> None:
    r = client.get("/me", headers=bearer("sop_not-a-real-token"))
    assert r.status_code == 401
    assert "invalid" in r.json()["message"]
    r = client.get("/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    assert "Bearer <token>" in r.json()["message"]


def test_wrong_role_is_403_naming_the_roles(client: TestClient, database: Database) -> None:
    token = make_user(database, "creator", Role.content_creator)
    r = client.get("/users", headers=bearer(token))
    assert r.status_code == 403
    body = r.json()
    assert body["error"] == "forbidden"
    assert body["required_roles"] == ["admin"]
    assert body["your_roles"] == ["content_creator"]
    assert "admin" in body["message"]


def test_admin_creates_user_with_audit_row(client: TestClient, database: Database) -> None:
    admin = make_user(database, "root", Role.admin, Role.ops_head)
    r = client.post(
        "/users",
        json={"name": "wang", "display_name": "王小明", "roles": ["risk_compliance", "business_reviewer"]},
        headers={**bearer(admin), "X-Request-ID": "req-create-wang"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["user"]["roles"] == ["business_reviewer", "risk_compliance"]
    assert r.headers["x-request-id"] == "req-create-wang"
    # The new token works, carries the new roles, and only its hash is stored.
    me = client.get("/me", headers=bearer(body["token"]))
    assert me.status_code == 200 and me.json()["name"] == "wang"
    with database.session() as session:
        stored = session.exec(select(ApiToken.token_hash)).all()
        rows = audit.query(session, action="user.create")
    assert body["token"] not in stored
    assert len(rows) == 1
    row = rows[0]
    assert (row.actor_name, row.roles, row.target, row.request_id) == (
        "root",
        ["admin", "ops_head"],
        f"user:{body['user']['id']}",
        "req-create-wang",
    )
    assert row.detail["roles"] == ["risk_compliance", "business_reviewer"]


def test_rejected_call_writes_nothing(client: TestClient, database: Database) -> None:
    admin = make_user(database, "root", Role.admin)
    r = client.post("/users", json={"name": "root", "roles": ["admin"]}, headers=bearer(admin))
    assert r.status_code == 409 and r.json()["field"] == "name"
    r = client.post("/users", json={"name": "li", "roles": []}, headers=bearer(admin))
    assert r.status_code == 422
    assert r.json()["field"] == "roles"
    r = client.post("/users", json={"name": "li", "roles": ["boss"]}, headers=bearer(admin))
    assert r.status_code == 422 and r.json()["field"] == "roles.0"
    with database.session() as session:
        assert session.exec(select(AuditLog)).all() == []


def test_deactivated_user_loses_access_and_last_admin_is_protected(client: TestClient, database: Database) -> None:
    admin = make_user(database, "root", Role.admin)
    agent = make_user(database, "agent", Role.interaction_agent)
    agent_id = client.get("/me", headers=bearer(agent)).json()["id"]
    root_id = client.get("/me", headers=bearer(admin)).json()["id"]
    assert client.post(f"/users/{agent_id}/deactivate", headers=bearer(admin)).status_code == 200
    assert client.get("/me", headers=bearer(agent)).status_code == 401
    r = client.put(f"/users/{root_id}/roles", json={"roles": ["ops_head"]}, headers=bearer(admin))
    assert r.status_code == 409
    assert client.get("/me", headers=bearer(admin)).json()["roles"] == ["admin"]


def test_revoking_own_token(client: TestClient, database: Database) -> None:
    token = make_user(database, "someone", Role.marketing)
    assert client.post("/tokens/revoke-mine", headers=bearer(token)).status_code == 200
    assert client.get("/me", headers=bearer(token)).status_code == 401


def test_audit_is_readable_by_risk_compliance_only_among_operators(client: TestClient, database: Database) -> None:
    rc = make_user(database, "rc", Role.risk_compliance)
    creator = make_user(database, "cc", Role.content_creator)
    assert client.get("/audit", headers=bearer(rc)).status_code == 200
    assert client.get("/audit", headers=bearer(creator)).status_code == 403
    r = client.get("/audit?limit=0", headers=bearer(rc))
    assert r.status_code == 422 and r.json()["field"] == "limit"


def test_every_route_declares_roles() -> None:
    app = create_app(test_settings(Database("sqlite://")))
    undeclared = []
    routes = list(iter_api_routes(app.routes))
    assert len(routes) > 20 and any(r.path == "/users" for r in routes)
    for route in routes:
        if route.path in PUBLIC_PATHS | SELF_AUTHENTICATED_PATHS:
            continue
        declared = [d.call for d in route.dependant.dependencies if hasattr(d.call, "allowed_roles")]
        if not declared:
            undeclared.append(f"{sorted(route.methods)} {route.path}")
    assert undeclared == []


def test_request_log_is_json_with_request_id_and_user(
    client: TestClient, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    token = make_user(database, "li", Role.ops_head)
    configure_logging("INFO", json=True)
    try:
        client.get("/me", headers={**bearer(token), "X-Request-ID": "abc-123"})
        logging.getLogger("uvicorn.error").warning("stdlib line")
    finally:
        configure_logging("INFO", json=False)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    access = [e for e in lines if e.get("event") == "request" and e.get("path") == "/me"]
    assert access, lines
    assert access[0]["request_id"] == "abc-123"
    assert access[0]["user"] == "li"
    assert access[0]["status"] == 200
    stdlib = [e for e in lines if e.get("event") == "stdlib line"]
    assert stdlib and stdlib[0]["logger"] == "uvicorn.error" and stdlib[0]["level"] == "warning"


def test_unexpected_errors_are_json_with_the_request_id(database: Database) -> None:
    app = create_app(test_settings(database), db=database)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaput")

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/boom", headers={"X-Request-ID": "req-500"})
    assert r.status_code == 500
    assert r.json()["error"] == "internal_error" and r.json()["request_id"] == "req-500"
    assert "kaput" not in r.text  # internals are logged, not returned


def test_malformed_json_names_the_body(client: TestClient, database: Database) -> None:
    token = make_user(database, "root", Role.admin)
    r = client.post(
        "/users",
        content=b'{"name": "x", "roles": [',
        headers={**bearer(token), "content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["field"] == "body" and "not valid JSON" in r.json()["message"]


def test_tokens_record_their_last_use_and_are_listed_without_the_secret(
    client: TestClient, database: Database
) -> None:
    admin = make_user(database, "root2", Role.admin)
    agent = make_user(database, "agent2", Role.interaction_agent)
    uid = client.get("/me", headers=bearer(agent)).json()["id"]
    listed = client.get(f"/users/{uid}/tokens", headers=bearer(admin)).json()
    assert len(listed) == 1 and listed[0]["last_used_at"] is not None  # the /me call above
    assert agent not in json.dumps(listed) and listed[0]["prefix"] == agent[:10]
    first = listed[0]["last_used_at"]
    client.get("/me", headers=bearer(agent))
    assert (
        client.get(f"/users/{uid}/tokens", headers=bearer(admin)).json()[0]["last_used_at"] == first
    )  # per minute
    assert client.get(f"/users/{uid}/tokens", headers=bearer(agent)).status_code == 403
