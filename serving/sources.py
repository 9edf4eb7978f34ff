"""What served each output: a champion model, the baseline the snapshot chose, or nothing (and why).

A score file carries one ``served_by`` column, per member, e.g.
``churn=model:3;next_purchase=baseline:bgnbd;upsell=baseline:popular_new_categories;value=baseline:bgnbd``
(``/score`` says the same in ``model_versions``). ``task=none`` marks a task nothing could score for
that member; BG/NBD's next purchase without a median (P(alive) <= 1/2) is marked as such.

Churn, next purchase and value must be served for some member, or the command fails with one
line (``require_served``): BG/NBD is the last resort for all three, so this happens only when not
even BG/NBD can be fitted and no champion serves.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Final

import numpy as np
import pandas as pd

from features.catalogue import ENGLISH
from features.formats import Voice
from models.baselines import SERVED_BY_BASELINE, baseline_name

KEY_OUTPUT: Final = {"churn": "churn_probability", "next_purchase": "p_purchase_30d",
                     "upsell": "upsell_probability", "value": "expected_value"}
REQUIRED: Final = ("churn", "next_purchase", "value")
NO_MEDIAN: Final = " (no median: P(alive) <= 0.5)"


def task_sources(model_versions: Mapping[str, str], profile: pd.DataFrame) -> dict[str, str]:
    """Per task: ``model:<version>`` for a champion, else ``baseline:<name>`` of the snapshot's baseline."""
    return {task: f"model:{model_versions[task]}" if task in model_versions else f"baseline:{baseline_name(task, profile)}"
            for task in SERVED_BY_BASELINE}


def served_by(scores: pd.DataFrame, sources: Mapping[str, str]) -> pd.Series:
    """The ``served_by`` text of every row of ``scores`` (``serving.scoring.score_frame``)."""
    parts = []
    for task, source in sources.items():
        present = scores[KEY_OUTPUT[task]].notna().to_numpy()
        text = np.where(present, f"{task}={source}", f"{task}=none").astype(object)
        if task == "next_purchase" and source.startswith("baseline:"):
            no_median = present & scores["next_purchase_median_days"].isna().to_numpy()
            text[no_median] = f"{task}={source}{NO_MEDIAN}"
        parts.append(text)
    joined = [";".join(row) for row in zip(*parts)] if parts else [""] * len(scores)
    return pd.Series(joined, index=scores.index, dtype="string")


def baseline_outputs(champions: Collection[str]) -> dict[str, str]:
    """For each required task without a champion: the snapshot profile column its baseline serves from."""
    return {task: SERVED_BY_BASELINE[task][KEY_OUTPUT[task]] for task in REQUIRED if task not in champions}


def require_served(scores: pd.DataFrame, as_of: date, horizon_days: int,
                   outputs: Mapping[str, str] = KEY_OUTPUT) -> None:
    """ValueError (one line) when no member has a score, or a required task has no source at all.

    ``outputs`` names each task's column in ``scores``: a score file's by default, or (before any
    scoring, ``baseline_outputs``) a snapshot profile's baseline columns.
    """
    if scores.empty:
        raise ValueError(f"no member has a purchase before {as_of}: nothing to score")
    missing = [task for task in REQUIRED if task in outputs
               and (outputs[task] not in scores.columns or scores[outputs[task]].isna().all())]
    if missing:
        raise ValueError(
            f"nothing can score {', '.join(missing)} for the {len(scores):,} members as of {as_of}: no champion "
            f"model, no baseline rule (no complete {horizon_days}-day window with both outcomes before it) and no "
            "BG/NBD fit (it needs at least 20 members, some with a repeat purchase)")


def summary(sources: Mapping[str, str], scores: pd.DataFrame, voice: Voice = ENGLISH) -> str:
    """``churn=model:3, next_purchase=baseline:bgnbd, ...`` and the mean churn probability (never nan),
    in ``voice``'s language (task codes and versions stay as they are: they are looked up elsewhere)."""
    served = ", ".join(f"{task}={source}" for task, source in sources.items()
                       if scores[KEY_OUTPUT[task]].notna().any())
    churn = scores["churn_probability"].dropna()
    sentence = voice.translator.ngettext("served by {served}; mean churn probability {mean} over {count} member",
                                         "served by {served}; mean churn probability {mean} over {count} members",
                                         len(churn))
    return sentence.format(served=served, mean=voice.number(churn.mean(), 3), count=voice.number(len(churn)))
