"""Alembic environment: migrates the connection ``campaigns.store`` hands over (no alembic.ini, no logging set-up)."""

from __future__ import annotations

from alembic import context

from campaigns.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  render_as_batch=True)  # SQLite alters a table by copying it
with context.begin_transaction():
    context.run_migrations()
