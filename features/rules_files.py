"""Threshold files (KPI alerts, drift): packaged defaults, a user's YAML over them, validated by pydantic."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from features.validation_errors import first_problem

Rules = TypeVar("Rules", bound=BaseModel)


def read_rules(model: type[Rules], defaults_file: str, label: str, path: str | Path | None, shape: str) -> Rules:
    """The packaged ``defaults_file`` (in features/), each top-level key of the YAML at ``path`` replacing its default.

    A bad file is a ValueError naming ``label`` and the file, the field and the reason; ``shape``
    says what the file should hold when it is not a mapping at all.
    """
    packaged = resources.files("features").joinpath(defaults_file).read_text(encoding="utf-8")
    raw: Any = yaml.safe_load(packaged)
    where = defaults_file
    if path is not None:
        where = str(path)
        try:
            custom = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ValueError(f"{label} {path}: file not found") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ValueError(f"{label} {path}: not a readable YAML file ({str(error).splitlines()[0]})") from None
        if not isinstance(custom, dict):
            raise ValueError(f"{label} {path}: expected {shape}")
        raw = {**raw, **custom}
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        field, reason = first_problem(error)
        raise ValueError(f"{label} {where}: {field or 'rules'}: {reason}") from None
