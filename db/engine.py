"""Engine and session factory. SQLite (embedded default) and PostgreSQL (production, CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session, create_engine


def create_private(path: Path) -> None:
    """Create a database file readable by its owner only (0600; SQLite gives its -wal/-shm files the same
    mode); an existing file is left as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            create_private(Path(parsed.database))
        kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        if parsed.database and parsed.database != ":memory:":
            # A connection per checkout: SQLite connections are cheap, and a pool of them can run dry when
            # concurrent requests each hold one while waiting for another (a 30 s stall, pool_timeout).
            kwargs.setdefault("poolclass", NullPool)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 30)
    kwargs.setdefault("pool_timeout", 10)
    return create_engine(url, **kwargs)


class Database:
    """Holds the engine; hands out sessions. Injected into activities and API dependencies."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
