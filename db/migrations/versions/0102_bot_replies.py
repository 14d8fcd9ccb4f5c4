"""bot replies are counted apart from first responses (an acknowledgement, a thank-you, an FAQ answer)

Revision ID: 0102_bot_replies
Revises: 0101_shift_ids
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0102_bot_replies"
down_revision = "0101_shift_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as t:
        t.add_column(sa.Column("first_bot_reply_at", sa.DateTime(timezone=True), nullable=True))
        t.add_column(sa.Column("bot_replies", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("interactions") as t:
        t.drop_column("bot_replies")
        t.drop_column("first_bot_reply_at")
