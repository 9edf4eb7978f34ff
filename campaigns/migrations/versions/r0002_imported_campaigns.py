"""Campaigns sent by another system: the design (randomised or observational), the sender's campaign
name, and per member when it was sent and what it cost.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("design", sa.String(20), nullable=False, server_default="randomised"))
        batch.add_column(sa.Column("external_id", sa.String(200), nullable=True))
        batch.create_check_constraint("ck_campaigns_design", "design IN ('randomised', 'observational')")
    with op.batch_alter_table("campaign_members") as batch:
        batch.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("cost", sa.Float(), nullable=True))
        batch.create_check_constraint("ck_members_cost", "cost IS NULL OR cost >= 0")


def downgrade() -> None:
    with op.batch_alter_table("campaign_members") as batch:
        batch.drop_constraint("ck_members_cost", type_="check")
        batch.drop_column("cost")
        batch.drop_column("sent_at")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint("ck_campaigns_design", type_="check")
        batch.drop_column("external_id")
        batch.drop_column("design")
