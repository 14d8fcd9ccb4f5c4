"""process-start outbox (a record and its workflow start in one transaction); crisis-hold holders

Revision ID: 0006_process_starts
Revises: 0005_inbox
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_process_starts"
down_revision = "0005_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_starts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("workflow", sa.String(length=100), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("signal", sa.String(length=64), nullable=False),
        sa.Column("signal_input", sa.JSON(), nullable=True),
        sa.Column("reuse_closed_id", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("process_starts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_process_starts_workflow_id"), ["workflow_id"], unique=False)
        batch_op.create_index("ix_process_starts_pending", ["dispatched_at"], unique=False)

    op.create_table(
        "crisis_hold_holders",
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("holder"),
    )
    # a hold active before this revision keeps holding, under the holder that set it
    conn = op.get_bind()
    row = conn.execute(
        sa.text("SELECT active, reason, set_by, incident_id, changed_at FROM crisis_hold WHERE id = 1")
    ).first()
    if row is not None and row[0]:
        conn.execute(
            sa.text("INSERT INTO crisis_hold_holders (holder, reason, set_by, set_at) VALUES (:h, :r, :b, :t)"),
            {"h": row[3] or "manual", "r": row[1], "b": row[2], "t": row[4]},
        )


def downgrade() -> None:
    op.drop_table("crisis_hold_holders")
    with op.batch_alter_table("process_starts", schema=None) as batch_op:
        batch_op.drop_index("ix_process_starts_pending")
        batch_op.drop_index(batch_op.f("ix_process_starts_workflow_id"))
    op.drop_table("process_starts")
