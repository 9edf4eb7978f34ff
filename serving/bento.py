"""Build a Bento that serves exactly the current champions: ``bentofile.yaml`` plus the model list.

The bentofile cannot know which tasks have a champion (a dataset without categories may have no
upsell model, a model may lose its gate), so the models are the champions imported now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bentoml
import yaml

from serving.artefacts import import_champions

BENTOFILE_KEYS = ("service", "labels", "include", "exclude", "python", "docker", "envs")


def build_bento(bentofile: Path, version: str | None = None) -> bentoml.Bento:
    """Build from ``bentofile`` with every imported champion pinned by its exact tag."""
    spec: dict[str, Any] = yaml.safe_load(bentofile.read_text(encoding="utf-8"))
    champions = import_champions()
    if "churn" not in champions:
        raise ValueError("no champion for memberscore-churn: run `memberscore train` before building a Bento")
    options = {key: spec[key] for key in BENTOFILE_KEYS if key in spec and key != "service"}
    models = [str(model.tag) for model in champions.values()]
    return bentoml.bentos.build(spec["service"], models=models, version=version,
                                build_ctx=str(bentofile.resolve().parent), **options)
