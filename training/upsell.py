"""Upsell / cross-sell: will the member buy into a category new to them, and which one to offer?

With a category column, one multi-output XGBoost booster predicts "any new category" (output 0)
and, per frequent category, "adopts this one" (outputs 1..K): one model, one registry entry,
exact TreeSHAP per output. The category names are stored on the booster. Without categories the
target is spend-up: next-H spend >= (1 + g) x the H days before the cut-off, and some spend.
"""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pandas as pd
import xgboost as xgb

from features.categories import share_column
from models.matrix import to_matrix
from models.offers import CATEGORIES_ATTR, TARGET_ATTR, any_new_probability, booster_categories
from training.baselines import SPEND_UP_BASELINES
from training.config import TrainConfig
from training.cross_sell import (
    CoPurchaseBaseline,
    PopularityBaseline,
    frequent_categories,
    hit_rate_at_k,
    new_category_any,
    new_category_targets,
    ownership_matrix,
    precision_at_fraction,
)
from training.evaluate import binary_metrics
from training.examples import CUTOFF_COLUMN
from training.fit import fit_booster
from training.plots import lift_figure, roc_figure, shap_summary_figure
from training.resampled_metrics import GateMetric, roc_auc_by_weight
from training.task import Assessment, Task, TaskData


def member_keys(rows: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([rows[CUTOFF_COLUMN], rows["member_id"].astype(str)], names=["cutoff", "member_id"])


def spend_up(rows: pd.DataFrame, growth: float) -> np.ndarray:
    """Next-H spend at least (1 + g) x the trailing H days' spend, and positive."""
    later, before = rows["spend_in_horizon"], rows["spend_before_horizon"].clip(lower=0.0)
    return ((later > 0) & (later >= (1.0 + growth) * before)).to_numpy(dtype=int)


def upsell_metrics(y: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    return {**binary_metrics(y, probability), "precision_top_decile": precision_at_fraction(y, probability, 0.1)}


class Upsell(Task):
    name: ClassVar[str] = "upsell"
    promotion_metric: ClassVar[str] = "roc_auc"
    def __init__(self) -> None:
        self.growth = 0.2  # spend-up growth g, set from the config in ``fit``

    def fit(self, data: TaskData, config: TrainConfig) -> xgb.Booster:
        self.growth = config.spend_up_growth
        params = {key: value for key, value in config.xgb_params.items() if key != "objective"}
        params.update(objective="binary:logistic", eval_metric="logloss", seed=config.seed)
        names = data.feature_names
        if data.category_history is None:
            booster = fit_booster(data.train, lambda r: to_matrix(r, names, spend_up(r, self.growth)), params, config,
                                  self.trainer())
            booster.set_attr(**{TARGET_ATTR: "spend_up", CATEGORIES_ATTR: "[]"})
            return booster
        vocabulary = frequent_categories(data.categories_at(data.train), config.max_categories)
        params["multi_strategy"] = "one_output_per_tree"
        booster = fit_booster(data.train, lambda r: to_matrix(r, names, self._targets(r, data, vocabulary)), params, config,
                              self.trainer())
        booster.set_attr(**{TARGET_ATTR: "new_category", CATEGORIES_ATTR: json.dumps(vocabulary)})
        return booster

    def _targets(self, rows: pd.DataFrame, data: TaskData, vocabulary: list[str]) -> np.ndarray:
        history, keys = data.categories_at(rows), member_keys(rows)
        return np.column_stack([new_category_any(history, keys), new_category_targets(history, keys, vocabulary)])

    def _label(self, rows: pd.DataFrame, data: TaskData) -> np.ndarray:
        if data.category_history is not None:
            return new_category_any(data.categories_at(rows), member_keys(rows))
        return spend_up(rows, self.growth)

    def metrics(self, booster: xgb.Booster, rows: pd.DataFrame, data: TaskData) -> dict[str, float]:
        return upsell_metrics(self._label(rows, data), any_new_probability(_predict(booster, rows)))

    def assess(self, booster: xgb.Booster, data: TaskData) -> Assessment:
        evaluation = data.evaluation
        y = self._label(evaluation, data)
        predicted = _predict(booster, evaluation)
        scores = {"model": any_new_probability(predicted)}
        hits: dict[str, float] = {}
        documents: dict[str, object] = {}
        if data.category_history is not None:
            vocabulary = booster_categories(booster)
            probabilities, hits = self._category_baselines(vocabulary, predicted[:, 1:], data)
            scores.update(probabilities)
            documents["categories.json"] = {"vocabulary": vocabulary, "share_columns": [share_column(c) for c in vocabulary]}
        else:
            scores.update(self._spend_up_baselines(data))
        out_of_time = {name: upsell_metrics(y, p) for name, p in scores.items()}
        for name, hit in hits.items():
            out_of_time[name]["hit_rate_at_3"] = hit
        figures = {
            "roc.png": roc_figure(y, scores),
            "gain.png": lift_figure(y, scores, what="upsell buyers"),
            "shap_summary.png": shap_summary_figure(booster, evaluation[data.feature_names],
                                                    output=0 if data.category_history is not None else None),
        }
        return Assessment(out_of_time, figures, documents, predictions=scores, gate_metric=GateMetric(roc_auc_by_weight, (y,)))

    @staticmethod
    def _category_baselines(vocabulary: list[str], per_category: np.ndarray,
                            data: TaskData) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Popularity and co-purchase P(any new category), and the hit rate at 3 of every ranker
        (the model's per-category outputs included) on the same members."""
        train_history, history = data.categories_at(data.train), data.categories_at(data.evaluation)
        keys = member_keys(data.evaluation)
        owned = ownership_matrix(history, keys, vocabulary).to_numpy() > 0
        targets = new_category_targets(history, keys, vocabulary)
        rankers = {"model": np.where(owned, -np.inf, per_category)}
        probabilities = {}
        for name, baseline in (("popular_new_categories", PopularityBaseline()), ("co_purchase", CoPurchaseBaseline())):
            baseline.fit(train_history)
            rankers[name] = baseline.score(history, keys, vocabulary)
            probabilities[name] = baseline.probability_any_new(history, keys, vocabulary)
        return probabilities, {name: hit_rate_at_k(s, targets, 3) for name, s in rankers.items()}

    def _spend_up_baselines(self, data: TaskData) -> dict[str, np.ndarray]:
        """Calibrated rules on the training rows: RFM total, and the 90-day spend trend."""
        y_train = spend_up(data.train, self.growth)
        return {rule.name: rule().fit(data.train, y_train).predict_proba(data.evaluation) for rule in SPEND_UP_BASELINES}


def _predict(booster: xgb.Booster, rows: pd.DataFrame) -> np.ndarray:
    return booster.predict(to_matrix(rows, list(booster.feature_names or [])))

