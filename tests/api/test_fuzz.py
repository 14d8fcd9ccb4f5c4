"""Schemathesis over every operation of the OpenAPI document (issue 13.2).

As an admin, as an interaction agent and with no token, with valid (positive) and invalid (negative) data,
on SQLite and PostgreSQL, against an app with no Temporal server behind it: no input a client can send is
a 5xx. Requests that need Temporal answer ``503 temporal_unavailable`` (documented on those operations),
every error has the one body shape ``{error, message, field}``, and every status is one the operation
documents. The run goes on after a failure (``--continue-on-failure``) and reports every finding at the end.

Bounded for this 2-core machine: a few examples per operation, role and mode, derandomized (the same
requests every run), no example database, no shrinking.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi

from api.app import create_app
from db.engine import Database
from domain.roles import Role
from tests.conftest import free_port, make_user, test_settings
from tests.seeds import seed_accounts

# Examples per operation, for each role and generation mode. No token stops at the gate, so fewer.
# SOCIALOPS_FUZZ_SCALE=10 multiplies them for a deeper run by hand (about ten times as long).
SCALE = max(1, int(os.environ.get("SOCIALOPS_FUZZ_SCALE", "1")))
EXAMPLES = {"admin": 6 * SCALE, "agent": 4 * SCALE, "none": 2 * SCALE}
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
MAX_REPORTED_PER_OPERATION = 3
ERROR_KEYS = {"error", "message", "field"}


@pytest.fixture
def fuzz_app(database: Database) -> Iterator[FastAPI]:
    """The real app on a migrated database, pointed at a port where no Temporal server listens."""
    seed_accounts(database)
    app = create_app(test_settings(database, temporal_address=f"127.0.0.1:{free_port()}"), db=database)
    _seed_records(app, database)
    yield app
    asgi.shutdown_lifespans()  # schemathesis keeps the app's lifespan open for the process otherwise


def _seed_records(app: FastAPI, database: Database) -> None:
    """A few records with the ids the fuzzer tries first (1, 2 …), so operations get past their 404s."""
    token = make_user(database, "seeder", *Role)
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as c:
        publish_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400 * 3))
        content = {
            "goal": "awareness",
            "format": "text",
            "body": "新品上市，欢迎了解。",
            "targets": [{"platform": "weibo", "account": "brand_weibo"}],
            "publish_at": publish_at,
        }
        assert c.post("/content", json=content, headers=h).status_code == 201
        assert c.post("/incidents", json={"title": "测试事件"}, headers=h).status_code == 201
        assert c.post("/campaigns", json={"title": "测试活动"}, headers=h).status_code == 201
        source = {"key": "svc", "kind": "webhook", "authority": "news"}
        assert c.post("/monitoring/sources", json=source, headers=h).status_code == 201
        items = {"items": [{"external_id": "m-1", "text": "恒星科技新品不错"}]}
        assert c.post("/monitoring/items", json=items, headers=h).status_code == 201


def _problem(role: str, mode: str, label: str, what: str, case: Any) -> str:
    return f"{label} as {role} ({mode}): {what}\n    {case.as_curl_command()}"


def _check(
    role: str, mode: str, label: str, documented: set[str], status: int, body: Any, case: Any
) -> str | None:
    """Why this answer is wrong, or None."""
    if status >= 500:
        temporal_down = status == 503 and isinstance(body, dict) and body.get("error") == "temporal_unavailable"
        if not (temporal_down or label == "GET /health"):
            return _problem(role, mode, label, f"{status} {str(body)[:300]}", case)
        if role == "none" and label != "GET /health":
            return _problem(role, mode, label, "503 without a token: Temporal was reached before the gate", case)
    if status >= 400 and label != "GET /health" and not (isinstance(body, dict) and ERROR_KEYS <= body.keys()):
        return _problem(role, mode, label, f"{status} without the error shape: {str(body)[:300]}", case)
    if str(status) not in documented:
        return _problem(role, mode, label, f"{status} is not documented ({sorted(documented)})", case)
    return None


def _run(
    op: Any, label: str, documented: set[str], role: str, token: str, mode: GenerationMode
) -> tuple[int, list[str]]:
    """One bounded Hypothesis run of ``op``: every answer checked, every finding kept (no stop, no shrink)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    found: list[str] = []
    calls = 0

    @settings(
        max_examples=EXAMPLES[role],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: every finding is reported as it was sent
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        if headers:
            case.headers = {**(case.headers or {}), **headers}
        try:
            response = case.call()
        except Exception as exc:  # the test client re-raises what the app did not handle
            found.append(_problem(role, mode.value, label, f"unhandled {type(exc).__name__}: {exc}", case))
            return
        try:
            body = response.json()
        except ValueError:
            body = response.text[:300]
        problem = _check(role, mode.value, label, documented, response.status_code, body, case)
        if problem:
            found.append(problem)

    try:
        run()
    except Unsatisfiable:  # e.g. no invalid data exists for an operation without parameters
        pass
    return calls, found


def _fuzz(app: FastAPI) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    paths = app.openapi()["paths"]
    database: Database = app.state.db
    calls = 0
    problems: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        label = f"{op.method.upper()} {op.path}"
        documented = set(paths[op.path][op.method.lower()]["responses"])
        # Fresh people per operation: one that revokes its own token or deactivates its user spoils no other.
        stamp = time.monotonic_ns()
        tokens = {
            "admin": make_user(database, f"fuzz-admin-{stamp}", Role.admin),
            "agent": make_user(database, f"fuzz-agent-{stamp}", Role.interaction_agent),
            "none": "",
        }
        found: list[str] = []
        for role, token in tokens.items():
            for mode in MODES:
                n, f = _run(op, label, documented, role, token, mode)
                calls += n
                found += f
        problems += found[:MAX_REPORTED_PER_OPERATION]
        if len(found) > MAX_REPORTED_PER_OPERATION:
            problems.append(f"{label}: … and {len(found) - MAX_REPORTED_PER_OPERATION} more")
    return calls, problems


def test_no_input_gives_a_server_error(fuzz_app: FastAPI) -> None:
    operations = sum(len(methods) for methods in fuzz_app.openapi()["paths"].values())
    assert operations > 100  # the whole API, not an empty schema
    calls, problems = _fuzz(fuzz_app)
    assert calls > operations * 10, calls
    assert not problems, f"{len(problems)} findings in {calls} requests:\n" + "\n".join(problems)
