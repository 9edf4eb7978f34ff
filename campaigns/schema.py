"""The campaign store's tables at the newest revision (``campaigns/migrations`` builds them).

The constraints keep the data honest whatever writes it: an arm is treatment or control, a
member is in a campaign once, a member row belongs to a campaign that exists, costs are not
negative and a margin rate is a share. A project sees only its own rows (``campaigns.store``).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
VERSION_TABLE = "memberscore_campaigns_version"  # not "alembic_version": MLflow's database may be the same one

campaigns = sa.Table(
    "campaigns", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project", sa.String(36), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("created", sa.DateTime(), nullable=False),  # UTC, naive (SQLite keeps no zone)
    sa.Column("start", sa.Date(), nullable=False),
    sa.Column("window_days", sa.Integer(), nullable=False),
    sa.Column("snapshot_as_of", sa.Date(), nullable=True),
    sa.Column("model_versions", sa.JSON(), nullable=False),
    sa.Column("cost_per_contact", sa.Float(), nullable=False),
    sa.Column("margin_rate", sa.Float(), nullable=False),
    sa.Column("holdout_share", sa.Float(), nullable=True),
    sa.Column("settings", sa.JSON(), nullable=False),
    sa.Column("power", sa.JSON(), nullable=True),
    sa.Column("design", sa.String(20), nullable=False, server_default="randomised"),
    sa.Column("external_id", sa.String(200), nullable=True),
    sa.UniqueConstraint("project", "name", name="uq_campaigns_project_name"),
    sa.CheckConstraint("window_days > 0", name="ck_campaigns_window_days"),
    sa.CheckConstraint("cost_per_contact >= 0", name="ck_campaigns_cost"),
    sa.CheckConstraint("margin_rate > 0 AND margin_rate <= 1", name="ck_campaigns_margin_rate"),
    sa.CheckConstraint("holdout_share IS NULL OR (holdout_share >= 0 AND holdout_share < 1)",
                       name="ck_campaigns_holdout_share"),
    sa.CheckConstraint("design IN ('randomised', 'observational')", name="ck_campaigns_design"),
)

campaign_members = sa.Table(
    "campaign_members", metadata,
    sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),  # one row per member per campaign
    sa.Column("arm", sa.String(10), nullable=False),
    sa.Column("score", sa.Float(), nullable=True),
    sa.Column("score_decile", sa.Integer(), nullable=True),
    sa.Column("lifecycle_stage", sa.String(40), nullable=True),
    sa.Column("tier", sa.String(40), nullable=True),
    sa.Column("is_new", sa.Boolean(), nullable=True),
    sa.Column("sent_at", sa.DateTime(), nullable=True),
    sa.Column("cost", sa.Float(), nullable=True),
    sa.CheckConstraint("arm IN ('treatment', 'control')", name="ck_members_arm"),
    sa.CheckConstraint("score_decile IS NULL OR (score_decile BETWEEN 1 AND 10)", name="ck_members_decile"),
    sa.CheckConstraint("cost IS NULL OR cost >= 0", name="ck_members_cost"),
)

campaign_effects = sa.Table(
    "campaign_effects", metadata,
    sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("measured", sa.DateTime(), primary_key=True),  # UTC, naive
    sa.Column("answer", sa.JSON(), nullable=False),  # what `memberscore campaign effect` printed
)
