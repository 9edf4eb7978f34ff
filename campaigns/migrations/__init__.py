"""Alembic migrations of the campaign store, run by ``campaigns.store.open_store`` (``upgrade head``)."""
