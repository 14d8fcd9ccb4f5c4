"""calendar feed keys are random per-user secrets, sealed at rest (was: derived from the server secret)

Revision ID: 0104_feed_keys
Revises: 0103_item_topics
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0104_feed_keys"
down_revision = "0103_item_topics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as t:
        t.add_column(sa.Column("feed_key_sealed", sa.String(length=200), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("users") as t:
        t.drop_column("feed_key_sealed")
