"""``python -m cli``: the same as the ``memberscore`` console script."""

from __future__ import annotations

from cli.main import app

app()
