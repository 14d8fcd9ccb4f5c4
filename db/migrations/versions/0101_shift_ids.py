"""shift ids are never reused: AUTOINCREMENT on SQLite (PostgreSQL sequences already never reuse)

Revision ID: 0101_shift_ids
Revises: 0100_campaign
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0101_shift_ids"
down_revision = "0100_campaign"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("shifts", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("shifts", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
