"""Issue 15, end to end: category names with any character survive load -> train -> score -> files.

A name with ``|`` once broke training after the registry had moved; names with a comma, quote,
semicolon, newline, a leading ``=`` (a spreadsheet formula) or in Chinese must come back equal
from the API answer (a list), the score file and the target-list CSV (one JSON array per cell).
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.load import load_transactions
from features.offer_lists import decode_offers
from features.project import DEFAULT_PROJECT
from features.snapshot import build_snapshot
from features.spreadsheet import APOSTROPHE, write_csv_safely
from features.store import write_snapshot
from models import catalog
from serving.live import load_snapshot
from serving.schemas import ScoreResponse, TargetsRequest
from serving.scoring import score_frame
from serving.targets import targets_csv, targets_response
from tests.conftest import Stores
from training.config import TrainConfig
from training.pipeline import train_tasks
from training.serving_baselines import CATEGORIES_COLUMN, with_serving_baselines
from training.upsell import Upsell, booster_categories

pytestmark = [pytest.mark.slow, pytest.mark.integration]  # trains a model

HOSTILE = ("Dairy | Eggs", "Wine, red", 'The "best" bread', "Tea; green", "line\nbreak", "=SUM(A1)", "饮料 | 茶",
           "Produce")
AS_OF = date(2024, 3, 1)


@pytest.fixture(scope="module")
def loaded_lines(tmp_path_factory: pytest.TempPathFactory, synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    """The simulation's lines with eight hostile category names, written as CSV and read back by the loader."""
    lines = synthetic[0].copy()
    simulated = sorted(lines["category"].dropna().unique())
    # split each simulated category in two by order, so all eight names carry real structure
    half = lines["order_id"].astype(str).str[-1].isin(list("01234")).to_numpy()
    codes = lines["category"].map({c: i for i, c in enumerate(simulated)}).to_numpy() * 2 + half
    lines["category"] = [HOSTILE[int(code) % len(HOSTILE)] for code in codes]
    path = tmp_path_factory.mktemp("offers") / "lines.csv"
    lines.to_csv(path, index=False)
    loaded, _ = load_transactions(path, rejects_path=path.with_suffix(".rejects.csv"))
    return loaded


def test_the_loader_keeps_every_name(loaded_lines: pd.DataFrame) -> None:
    assert sorted(loaded_lines["category"].dropna().unique()) == sorted(HOSTILE)


def test_any_name_is_trained_scored_and_read_back_equal(stores: Stores, loaded_lines: pd.DataFrame, tmp_path: Path) -> None:
    config = TrainConfig(horizon_days=60, n_train_cutoffs=3)
    train_tasks(loaded_lines, config, [Upsell()], project=DEFAULT_PROJECT)
    booster = catalog.load_booster("upsell", catalog.CHALLENGER, project=DEFAULT_PROJECT)
    assert set(booster_categories(booster)) == set(HOSTILE)

    snapshot = with_serving_baselines(loaded_lines, build_snapshot(loaded_lines, AS_OF), config)
    assert {name for cell in snapshot.profile[CATEGORIES_COLUMN] for name in decode_offers(cell)} <= set(HOSTILE)
    path = write_snapshot(snapshot, stores.project_snapshots)
    loaded = load_snapshot(path, {"upsell": booster})
    expected = {str(m): decode_offers(cell) for m, cell in loaded.scores_by_id["upsell_categories"].items()}
    assert {name for names in expected.values() for name in names} == set(HOSTILE), "every name is offered somewhere"

    # the API answer: a JSON list of the names themselves
    ids = list(expected)[:200]
    answer = ScoreResponse(results=loaded.members.scores(ids, 0), snapshot_as_of=AS_OF.isoformat(),
                           model_version="1", model_versions={})
    body = json.loads(answer.model_dump_json())
    assert {r["member_id"]: r["upsell_categories"] for r in body["results"]} == {m: expected[m] for m in ids}

    # the score file: one quoted JSON array per cell
    scores = score_frame({"upsell": booster}, snapshot.model_inputs(), snapshot.profile, snapshot.as_of)
    out = tmp_path / "scores.csv"
    write_csv_safely(scores, out)
    back = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert {m: decode_offers(cell) for m, cell in zip(back["member_id"], back["upsell_categories"])} == expected

    # the upsell target list, CSV: the offers and the first offer (formula-neutralised) come back equal
    response = targets_response({"upsell": booster}, loaded, TargetsRequest(campaign="upsell", limit=500, explain=0))
    assert response.rows and all(row.upsell_categories == expected[row.member_id] for row in response.rows)
    table = pd.read_csv(io.StringIO(targets_csv(response)), dtype=str, keep_default_na=False)
    assert [decode_offers(cell) for cell in table["upsell_categories"]] == [row.upsell_categories for row in response.rows]
    firsts = [cell.removeprefix(APOSTROPHE) if cell.startswith(APOSTROPHE + "=") else cell for cell in table["offer_category"]]
    assert firsts == [row.offer_category or "" for row in response.rows]
    assert any(cell.startswith(APOSTROPHE + "=") for cell in table["offer_category"]) or "=SUM(A1)" not in firsts
