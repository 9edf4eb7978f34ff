"""Measured effects: each `memberscore campaign effect` run's answer, kept so the service can show it.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_effects",
        sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("measured", sa.DateTime(), primary_key=True),
        sa.Column("answer", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("campaign_effects")
