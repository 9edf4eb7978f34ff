"""What every model task provides to the shared pipeline, and the data they all share.

The pipeline plans cut-offs and builds examples once; each task then fits its booster, scores
it and its baselines on the same out-of-time rows, and draws its figures. Logging, the champion
gate and registration are the pipeline's, identical for every task.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xgboost as xgb
from matplotlib.figure import Figure

from features.lifetime import LifetimeModel
from training.config import TrainConfig
from training.cutoffs import CutoffPlan
from training.examples import CUTOFF_COLUMN
from training.fit import Trainer, local_train
from training.resampled_metrics import GateMetric


@dataclass(frozen=True)
class TaskData:
    """Examples of the training cut-offs and of the evaluation cut-off, and what baselines need."""

    train: pd.DataFrame
    evaluation: pd.DataFrame
    feature_names: list[str]
    plan: CutoffPlan
    lifetime_at_evaluation: LifetimeModel | None = None
    category_history: pd.DataFrame | None = None  # training.examples.build_category_history, all cut-offs

    def bgnbd_missing(self) -> str | None:
        """Why BG/NBD at the evaluation cut-off cannot serve as a baseline (None when it can)."""
        if self.lifetime_at_evaluation is None:
            return "too little history at the evaluation cut-off for a BG/NBD fit"
        if self.lifetime_at_evaluation.bgnbd is None:
            return self.lifetime_at_evaluation.unavailable.get("bgnbd", "BG/NBD could not be fitted")
        return None

    def categories_at(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The category history of the cut-offs present in ``rows``."""
        if self.category_history is None:
            raise ValueError("no category column in these transactions")
        return self.category_history[self.category_history[CUTOFF_COLUMN].isin(rows[CUTOFF_COLUMN].unique())]


@dataclass
class Assessment:
    """Out-of-time metrics per scorer, what the gate resamples, and the figures to log.

    ``out_of_time`` holds ``model`` and every baseline the task compares it with: the gate reads
    the baselines from here, so a task cannot declare one and forget to score it. For the paired
    bootstrap, ``predictions`` holds each scorer's per-row prediction on the evaluation rows (what
    the promotion metric ranks) and ``gate_metric`` turns one into that metric on weighted rows
    (``training.resampled_metrics``). ``baselines_unavailable`` names a baseline the task could
    not score, and why (e.g. a BG/NBD fit that did not converge).
    """

    out_of_time: dict[str, dict[str, float]]
    figures: dict[str, Figure] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    gate_metric: GateMetric | None = None
    baselines_unavailable: dict[str, str] = field(default_factory=dict)


class Task(ABC):
    """One model: its target, booster, metrics and baselines."""

    name: ClassVar[str]
    promotion_metric: ClassVar[str]  # higher is better

    def unavailable(self, data: TaskData) -> str | None:
        """Why this task cannot be trained on ``data`` (None when it can)."""
        return None

    def trainer(self) -> Trainer:
        """What fits this task's boosters: ``xgb.train`` in this process, unless a Spark task says otherwise."""
        return local_train

    def horizon_days(self, config: TrainConfig) -> int:
        """The label window this task learns: the run's H, unless the question fixes its own."""
        return config.horizon_days

    @abstractmethod
    def fit(self, data: TaskData, config: TrainConfig) -> xgb.Booster:
        """Train on ``data.train`` only."""

    @abstractmethod
    def metrics(self, booster: xgb.Booster, rows: pd.DataFrame, data: TaskData) -> dict[str, float]:
        """The task's metrics of ``booster`` on example rows (training or evaluation)."""

    @abstractmethod
    def assess(self, booster: xgb.Booster, data: TaskData) -> Assessment:
        """Model and baselines on ``data.evaluation``, with figures."""
