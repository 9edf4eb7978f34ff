"""A project: one retailer's or dataset's models and snapshots, kept apart from every other's.

Everything a project owns is named or filed under its name: registered models and MLflow
experiments (``training.registry.model_name``), the BentoML models, and the snapshot directory
(``features.store.project_snapshot_dir``). So a champion gate only ever meets models trained on the
same project, and a service started for one project never sees another's. The name is chosen at the
edge (``--project`` or ``MEMBERSCORE_PROJECT``) and passed down; nothing below reads the environment.
"""

from __future__ import annotations

import re

DEFAULT_PROJECT = "default"
PROJECT_ENV = "MEMBERSCORE_PROJECT"
# 36 characters: a BentoML tag name holds at most 63, and "<project>.memberscore-next-purchase"
# adds 26 to the project's name. Lowercase, digits, '-' and '_' are valid in MLflow registered-model
# names, BentoML tags and directory names alike; no '.', which separates the project in a model name.
MAX_LENGTH = 36
PROJECT_RULE = re.compile(rf"^[a-z0-9][a-z0-9_-]{{0,{MAX_LENGTH - 1}}}$")


def check_project(name: str, source: str = "--project") -> str:
    """``name`` if it is a valid project name, else ValueError naming ``source`` and the rule."""
    if not PROJECT_RULE.fullmatch(name):
        raise ValueError(f"{source} {name!r}: a project name is 1 to {MAX_LENGTH} lowercase letters, digits, "
                         f"'-' or '_', starting with a letter or digit ({PROJECT_RULE.pattern})")
    return name
