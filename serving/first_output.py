"""The single-output booster of a multi-output booster's output 0, for exact TreeSHAP at a fraction of the cost.

The upsell booster (``models.offers``) has one output per tree: "any new category" (output 0) and
one output per frequent category. Only output 0 is explained, but ``pred_contribs`` on the whole
booster walks every output's trees, K + 1 times the work. With one tree per output, output 0's
margin is its base score plus the sum of the trees tagged 0 in ``tree_info``, so a booster made of
exactly those trees has the same margin and the same TreeSHAP values for output 0 (a test checks
both against the full booster).
"""

from __future__ import annotations

import json
import weakref

import xgboost as xgb

_CACHE: weakref.WeakKeyDictionary[xgb.Booster, xgb.Booster] = weakref.WeakKeyDictionary()


def first_output_booster(booster: xgb.Booster) -> xgb.Booster:
    """``booster`` itself when it has one output, else a booster of its output 0 (built once per booster)."""
    if output_count(booster) == 1:
        return booster
    cached = _CACHE.get(booster)
    if cached is None:
        cached = _CACHE[booster] = _first_output(booster)
    return cached


def output_count(booster: xgb.Booster) -> int:
    """How many targets the booster was trained on (from its small config, not the whole model)."""
    parameters = json.loads(booster.save_config())["learner"]["learner_model_param"]
    return int(parameters.get("num_target", "1"))


def _first_output(booster: xgb.Booster) -> xgb.Booster:
    document = json.loads(booster.save_raw("json"))
    learner = document["learner"]
    parameters = learner["learner_model_param"]
    if learner["gradient_booster"].get("name") != "gbtree":
        raise ValueError(f"only gbtree multi-output boosters can be sliced, not {learner['gradient_booster'].get('name')}")
    model = learner["gradient_booster"]["model"]
    if int(model["gbtree_model_param"].get("num_parallel_tree", "1")) != 1:
        raise ValueError("only boosters with one parallel tree per output can be sliced")
    kept = [tree for tree, output in zip(model["trees"], model["tree_info"]) if output == 0]
    for position, tree in enumerate(kept):
        tree["id"] = position
    model["trees"], model["tree_info"] = kept, [0] * len(kept)
    model["gbtree_model_param"]["num_trees"] = str(len(kept))
    model["iteration_indptr"] = list(range(len(kept) + 1))
    parameters["num_target"] = "1"
    parameters["base_score"] = _first_base_score(parameters["base_score"])
    single = xgb.Booster()
    single.load_model(bytearray(json.dumps(document).encode()))
    single.feature_names, single.feature_types = booster.feature_names, booster.feature_types
    return single


def _first_base_score(stored: str) -> str:
    """XGBoost stores a multi-output base score as a bracketed list, e.g. ``[4.97E-1,5.1E-1]``."""
    values = stored.strip("[]").split(",")
    return values[0]
