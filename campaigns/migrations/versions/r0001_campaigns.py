"""Campaigns and their members with arms (created lists with a randomised holdout).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("project", sa.String(36), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("snapshot_as_of", sa.Date(), nullable=True),
        sa.Column("model_versions", sa.JSON(), nullable=False),
        sa.Column("cost_per_contact", sa.Float(), nullable=False),
        sa.Column("margin_rate", sa.Float(), nullable=False),
        sa.Column("holdout_share", sa.Float(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("power", sa.JSON(), nullable=True),
        sa.UniqueConstraint("project", "name", name="uq_campaigns_project_name"),
        sa.CheckConstraint("window_days > 0", name="ck_campaigns_window_days"),
        sa.CheckConstraint("cost_per_contact >= 0", name="ck_campaigns_cost"),
        sa.CheckConstraint("margin_rate > 0 AND margin_rate <= 1", name="ck_campaigns_margin_rate"),
        sa.CheckConstraint("holdout_share IS NULL OR (holdout_share >= 0 AND holdout_share < 1)",
                           name="ck_campaigns_holdout_share"),
    )
    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("member_id", sa.String(200), primary_key=True),
        sa.Column("arm", sa.String(10), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("score_decile", sa.Integer(), nullable=True),
        sa.Column("lifecycle_stage", sa.String(40), nullable=True),
        sa.Column("tier", sa.String(40), nullable=True),
        sa.Column("is_new", sa.Boolean(), nullable=True),
        sa.CheckConstraint("arm IN ('treatment', 'control')", name="ck_members_arm"),
        sa.CheckConstraint("score_decile IS NULL OR (score_decile BETWEEN 1 AND 10)", name="ck_members_decile"),
    )


def downgrade() -> None:
    op.drop_table("campaign_members")
    op.drop_table("campaigns")
