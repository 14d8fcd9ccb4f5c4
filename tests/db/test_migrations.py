from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import db.models  # noqa: F401
from db import audit, migrate
from db.engine import Database
from db.models import AuditLog


def test_upgrade_applies_every_migration(empty_database: Database) -> None:
    engine = empty_database.engine
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    tables = set(sa.inspect(engine).get_table_names())
    assert {"users", "user_roles", "api_tokens", "audit_log", "alembic_version"} <= tables


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(database: Database) -> None:
    migrate.downgrade(database.engine, "base")
    assert "users" not in sa.inspect(database.engine).get_table_names()
    migrate.upgrade(database.engine)
    assert "users" in sa.inspect(database.engine).get_table_names()


def test_audit_log_is_append_only(database: Database) -> None:
    with database.session() as session:
        audit.record(session, None, "test.action", "thing:1", "rid-1", {"k": "v"}, actor_name="tester")
        session.commit()
    for statement in (sa.update(AuditLog).values(action="tampered"), sa.delete(AuditLog)):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), database.engine.begin() as conn:
            conn.execute(statement)
    with database.session() as session:
        rows = audit.query(session)
    assert [(r.action, r.actor_name, r.detail) for r in rows] == [("test.action", "tester", {"k": "v"})]
    assert rows[0].at.tzinfo is not None


def test_a_deleted_shift_id_is_never_given_again(database: Database) -> None:
    """Audit rows name shifts by id: a deleted shift's id coming back as someone else's would rewrite history."""
    from datetime import UTC, datetime, timedelta

    from db.models import Shift

    now = datetime.now(UTC)
    with database.session() as s:
        first = Shift(user="xiaozhou", starts_at=now, ends_at=now + timedelta(hours=8))
        s.add(first)
        s.commit()
        gone = first.id
        s.delete(first)
        s.commit()
        second = Shift(user="xiaoli", starts_at=now, ends_at=now + timedelta(hours=8))
        s.add(second)
        s.commit()
        assert gone is not None and second.id is not None and second.id > gone
