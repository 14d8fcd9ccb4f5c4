from __future__ import annotations

from temporalio import activity

from db import migrate
from db.accounts import count_users
from db.engine import Database
from domain.system import DatabaseCheckResult


class SystemActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn
    def check_database(self) -> DatabaseCheckResult:
        self.db.ping()
        with self.db.session() as session:
            users = count_users(session)
        return DatabaseCheckResult(
            ok=True,
            dialect=self.db.engine.dialect.name,
            migration=migrate.current_revision(self.db.engine),
            users=users,
        )
