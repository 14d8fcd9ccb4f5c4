"""Every mutating route × every role × no token, generated from the route table the code declares.

The roles a route admits are the ones its gate declares (``require_roles(...).allowed_roles``; an empty set
means any signed-in user). Without a token every call is 401; a role outside the gate is 403, whatever the
path or body (the gate comes before any lookup, so a 404 or 422 never tells an outsider what exists); a role
inside is never 401/403 from the gate. Rules finer than a role (the commander, a task's owner, the owning
department) are the processes' own and have their own tests. The README's role table is generated from the
same declarations (``python -m api.roles_table``) and must match.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import PUBLIC_PATHS, SELF_AUTHENTICATED_PATHS, create_app, iter_api_routes
from api.roles_table import BEGIN, END, declared_roles, markdown
from db.engine import Database
from domain.roles import Role
from tests.conftest import make_user, test_settings

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
README = Path(__file__).parents[2] / "README.md"


def _path(template: str) -> str:
    return re.sub(
        r"\{[^}]+\}", lambda m: "999999" if m.group(0)[1:-1].endswith(("id", "number")) else "x", template
    )


@pytest.fixture(scope="module")
def app_and_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, Database]:
    from db import migrate

    db = Database(f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'm.db'}")
    migrate.upgrade(db.engine)
    for role in Role:
        make_user(db, f"m-{role.value}", role)
    app = create_app(test_settings(db), db=db)  # no Temporal: an admitted call may answer 503, never 401/403
    return TestClient(app, raise_server_exceptions=False), db


@pytest.fixture
def matrix(app_and_db: tuple[TestClient, Database]) -> tuple[TestClient, dict[str, str]]:
    """Fresh tokens for each route (one of them revokes the token it is called with)."""
    from sqlmodel import select

    from db.accounts import issue_token
    from db.models import User

    client, db = app_and_db
    tokens = {}
    with db.session() as s:
        for role in Role:
            user = s.exec(select(User).where(User.name == f"m-{role.value}")).one()
            assert user.id is not None and user.active
            tokens[role.value] = issue_token(s, user.id, "matrix")
        s.commit()
    return client, tokens


def _cases() -> list[Any]:
    app = create_app(test_settings(Database("sqlite://")))
    out = []
    for route in iter_api_routes(app.routes):
        if route.path in PUBLIC_PATHS | SELF_AUTHENTICATED_PATHS:
            continue
        for method in sorted(route.methods & MUTATING):
            out.append(pytest.param(method, route.path, declared_roles(route), id=f"{method} {route.path}"))
    return out


@pytest.mark.parametrize(("method", "path", "allowed"), _cases())
def test_route_gate(matrix: tuple[TestClient, dict[str, str]], method: str, path: str, allowed: set[Role]) -> None:
    client, tokens = matrix
    client.cookies.clear()  # a cookie an earlier case set (the codec sign-in) is not a token
    url = _path(path)
    r = client.request(method, url, json={})
    assert r.status_code == 401, (method, url, "no token", r.status_code, r.text[:200])
    wrong = []
    for role in Role:
        r = client.request(method, url, json={}, headers={"Authorization": f"Bearer {tokens[role.value]}"})
        client.cookies.clear()
        admitted = not allowed or role in allowed
        if admitted and r.status_code in (401, 403):
            wrong.append((role.value, "refused", r.status_code, r.text[:160]))
        if not admitted and r.status_code != 403:
            wrong.append((role.value, "let through", r.status_code, r.text[:160]))
    assert wrong == [], (method, url, sorted(r.value for r in allowed))


def test_the_readme_role_table_is_the_code_s() -> None:
    text = README.read_text()
    assert BEGIN in text and END in text, "README lacks the generated role table"
    current = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    app = create_app(test_settings(Database("sqlite://")))
    assert current == markdown(app).strip(), "README role table is stale: run `python -m api.roles_table --write`"
