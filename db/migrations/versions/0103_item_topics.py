"""a monitored item belongs to every topic it matches (was: only the first one counted)

Revision ID: 0103_item_topics
Revises: 0102_bot_replies
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0103_item_topics"
down_revision = "0102_bot_replies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitored_item_topics",
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("monitored_items.id"), primary_key=True),
        sa.Column("topic_key", sa.String(length=50), primary_key=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_monitored_item_topics_time", "monitored_item_topics", ["topic_key", "ingested_at"])
    bind = op.get_bind()
    items = sa.table(
        "monitored_items",
        sa.column("id", sa.Integer),
        sa.column("topics", sa.JSON),
        sa.column("topic_key", sa.String),
        sa.column("ingested_at", sa.DateTime(timezone=True)),
        sa.column("incident_id", sa.Integer),
    )
    links = sa.table(
        "monitored_item_topics",
        sa.column("item_id", sa.Integer),
        sa.column("topic_key", sa.String),
        sa.column("ingested_at", sa.DateTime(timezone=True)),
        sa.column("incident_id", sa.Integer),
    )
    rows: list[dict[str, object]] = []
    for item_id, topics, first, at, incident in bind.execute(
        sa.select(items.c.id, items.c.topics, items.c.topic_key, items.c.ingested_at, items.c.incident_id)
    ):
        listed = [str(t) for t in topics] if isinstance(topics, list) and topics else [str(first)] if first else []
        for key in dict.fromkeys(listed):
            rows.append(
                {
                    "item_id": item_id,
                    "topic_key": key[:50],
                    "ingested_at": at,
                    "incident_id": incident if key == first else None,
                }
            )
        if len(rows) >= 5000:
            op.bulk_insert(links, rows)
            rows = []
    if rows:
        op.bulk_insert(links, rows)


def downgrade() -> None:
    op.drop_index("ix_monitored_item_topics_time", table_name="monitored_item_topics")
    op.drop_table("monitored_item_topics")
