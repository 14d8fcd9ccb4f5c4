"""platform accounts hold sealed credentials and a status (active / reauthorize_needed); OAuth states in flight

Revision ID: 0105_platform_credentials
Revises: 0104_feed_keys
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0105_platform_credentials"
down_revision = "0104_feed_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("platform_accounts") as t:
        t.add_column(sa.Column("credentials_sealed", sa.Text(), nullable=False, server_default=""))
        t.add_column(sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True))
        t.add_column(sa.Column("status", sa.String(length=32), nullable=False, server_default="active"))
        t.add_column(sa.Column("status_reason", sa.String(length=500), nullable=False, server_default=""))
        t.add_column(sa.Column("status_since", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "oauth_states",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_by_name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_oauth_states_account_id", "oauth_states", ["account_id"])
    op.create_index("ix_oauth_states_state_hash", "oauth_states", ["state_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_oauth_states_state_hash", table_name="oauth_states")
    op.drop_index("ix_oauth_states_account_id", table_name="oauth_states")
    op.drop_table("oauth_states")
    with op.batch_alter_table("platform_accounts") as t:
        for name in ("status_since", "status_reason", "status", "token_expires_at", "credentials_sealed"):
            t.drop_column(name)
