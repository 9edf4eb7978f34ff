"""Build a Bento that serves exactly the current champions: ``bentofile.yaml`` plus the model list.

The bentofile cannot know which tasks have a champion (a dataset without categories may have no
upsell model, a model may lose its gate), so the models are the champions imported now, of one project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bentoml
import yaml

# the type bentoml.bentos.build's ``envs`` takes (its signature names it; plain dicts are not converted)
from bentoml._internal.bento.build_config import BentoEnvSchema, ModelSpec

from features.project import PROJECT_ENV
from models.catalog import model_name
from serving.artefacts import import_champions

BENTOFILE_KEYS = ("service", "labels", "include", "exclude", "python", "docker", "envs")


def build_bento(bentofile: Path, project: str, version: str | None = None) -> bentoml.Bento:
    """Build from ``bentofile`` with every imported champion of ``project`` pinned by its exact tag.

    The Bento serves that project only: it is labelled with it and sets ``MEMBERSCORE_PROJECT``.
    """
    spec: dict[str, Any] = yaml.safe_load(bentofile.read_text(encoding="utf-8"))
    champions = import_champions(project=project)
    if "churn" not in champions:
        raise ValueError(f"no champion for {model_name('churn', project=project)}: run "
                         f"`memberscore train --project {project}` before building a Bento")
    options = {key: spec[key] for key in BENTOFILE_KEYS if key in spec and key not in ("service", "labels", "envs")}
    labels = {**(spec.get("labels") or {}), "project": project}
    envs = [BentoEnvSchema(**e) for e in spec.get("envs") or [] if e.get("name") != PROJECT_ENV]
    envs.append(BentoEnvSchema(name=PROJECT_ENV, value=project))
    models: list[ModelSpec | str | dict[str, Any]] = [str(model.tag) for model in champions.values()]
    return bentoml.bentos.build(spec["service"], models=models, version=version, labels=labels, envs=envs,
                                build_ctx=str(bentofile.resolve().parent), **options)
