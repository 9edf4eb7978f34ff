"""training.config: TrainConfig parsed once from YAML, with CLI overrides on top.

Pinned: no path gives the defaults; YAML values replace defaults; an override replaces YAML unless
it is None (an unset CLI option); unknown keys, from YAML or overrides, are rejected with a
pydantic ValidationError that names the key; out-of-range values are rejected; the config is frozen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from training.config import TrainConfig, default_xgb_params, read_config

YAML = """\
horizon_days: 30
n_train_cutoffs: 3
seed: 11
xgb_params:
  objective: binary:logistic
  max_depth: 2
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(YAML, encoding="utf-8")
    return path


# overrides -> expected fields
OVERRIDES = [
    pytest.param({}, {"horizon_days": 30, "n_train_cutoffs": 3, "seed": 11}, id="yaml-only"),
    pytest.param({"horizon_days": 45}, {"horizon_days": 45, "n_train_cutoffs": 3, "seed": 11}, id="override-wins"),
    pytest.param({"horizon_days": None, "seed": None}, {"horizon_days": 30, "seed": 11}, id="none-ignored"),
    pytest.param({"cutoff_step_days": 14, "monotone": False},
                 {"cutoff_step_days": 14, "monotone": False, "horizon_days": 30}, id="override-a-default"),
    pytest.param({"monotone": None, "min_history_days": 0},
                 {"monotone": True, "min_history_days": 0}, id="none-keeps-default-zero-kept"),
]


@pytest.mark.parametrize(("overrides", "expected"), OVERRIDES)
def test_read_config_yaml_then_overrides(
    config_file: Path, overrides: dict[str, Any], expected: dict[str, Any]
) -> None:
    """YAML replaces defaults, non-None overrides replace YAML; untouched fields keep their defaults."""
    config = read_config(config_file, **overrides)
    for name, value in expected.items():
        assert getattr(config, name) == value, name
    assert config.xgb_params == {**default_xgb_params(), "objective": "binary:logistic", "max_depth": 2}
    assert config.num_boost_round == TrainConfig().num_boost_round


def test_no_path_gives_defaults(tmp_path: Path) -> None:
    """Without a file (or with an empty one) the config is the default TrainConfig."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert read_config(None) == TrainConfig()
    assert read_config(empty) == TrainConfig()
    assert read_config(None, horizon_days=None).horizon_days == 90
    assert TrainConfig().xgb_params == default_xgb_params()


@pytest.mark.parametrize(
    ("yaml_text", "overrides", "bad_key"),
    [
        pytest.param("horizon_days: 30\nhorizon: 60\n", {}, "horizon", id="unknown-yaml-key"),
        pytest.param("", {"n_cutoffs": 4}, "n_cutoffs", id="unknown-override"),
        pytest.param("learning_rate: 0.1\n", {}, "learning_rate", id="xgb-param-at-top-level"),
    ],
)
def test_unknown_keys_are_rejected_by_name(
    tmp_path: Path, yaml_text: str, overrides: dict[str, Any], bad_key: str
) -> None:
    """extra='forbid': a typo is an error naming the key, never silently ignored."""
    path = tmp_path / "train.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(pydantic.ValidationError) as error:
        read_config(path, **overrides)
    assert bad_key in str(error.value)
    assert [e["loc"] for e in error.value.errors()] == [(bad_key,)]
    assert error.value.errors()[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    ("field", "value"),
    [("horizon_days", 0), ("horizon_days", 731), ("n_train_cutoffs", 0), ("cutoff_step_days", 0),
     ("early_stopping_rounds", -1), ("num_boost_round", 0)],
)
def test_out_of_range_values_are_rejected(field: str, value: int) -> None:
    """Field bounds are enforced at parse time, naming the field."""
    with pytest.raises(pydantic.ValidationError) as error:
        read_config(None, **{field: value})
    assert field in str(error.value)


def test_config_is_frozen() -> None:
    """A parsed config cannot be changed afterwards."""
    config = TrainConfig()
    with pytest.raises(pydantic.ValidationError):
        config.horizon_days = 30  # type: ignore[misc]


def test_partial_xgb_params_keep_the_binary_objective(tmp_path: Path) -> None:
    """Overriding one booster parameter keeps the other defaults (the objective above all)."""
    path = tmp_path / "train.yaml"
    path.write_text("xgb_params:\n  max_depth: 2\n", encoding="utf-8")
    params = read_config(path).xgb_params
    assert params["max_depth"] == 2
    assert params["objective"] == "binary:logistic"
    assert params["eval_metric"] == "auc"
