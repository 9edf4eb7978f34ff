"""``memberscore snapshot`` with MEMBERSCORE_TIER_PROGRAMME: the programme's tier columns in the stored profile.

The simulated shop's members spend tens to a few thousand a year, so the test programme's ladder is
scaled down (silver 100, gold 300, diamond 600 a year). The stored tiers must be the replay's
(``features.tier_outputs.tiers_as_of`` on the same rows), and each member's pace towards keeping
their card comes from the snapshot's value baseline where it has one.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from features.project import DEFAULT_PROJECT
from features.store import latest_snapshot_path, read_snapshot
from features.tier_outputs import TIER_COLUMNS, tiers_as_of
from features.tier_programme import parse_programme
from models.baselines import VALUE_COLUMN
from serving.scoring import OUTPUT_COLUMNS, score_frame
from tests.features.tier_cases import PROGRAMME

AS_OF = "2024-03-01"
SCALED = {**PROGRAMME, "exclusions": {}, "cards": [
    {"code": "vip", "name": "VIP card"},
    {"code": "silver", "name": "Silver card", "cumulative": 100, "single_day": 80, "retain": 60},
    {"code": "gold", "name": "Gold card", "cumulative": 300, "single_day": 200, "retain": 200},
    {"code": "diamond", "name": "Diamond card", "cumulative": 600, "retain": 400}],
    "supreme": {**PROGRAMME["supreme"], "each_at_least": 800, "or_one_period_at_least": 1500, "exit_below": 500}}


@pytest.mark.slow
def test_snapshot_holds_the_programme_tiers(synthetic: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    transactions = synthetic[0][synthetic[0]["member_id"] < "m00200"]
    data, programme = tmp_path / "tx.csv", tmp_path / "programme.yaml"
    transactions.to_csv(data, index=False)
    programme.write_text(yaml.safe_dump(SCALED), encoding="utf-8")
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("MEMBERSCORE_TIER_PROGRAMME", str(programme))
    for as_of in ("2023-03-01", AS_OF):  # the second reads the first's programme tiers as "last period's": unused
        result = CliRunner().invoke(app, ["snapshot", "--transactions", str(data), "--as-of", as_of])
        assert result.exit_code == 0, result.output
    stored = read_snapshot(latest_snapshot_path(tmp_path / "store" / DEFAULT_PROJECT))  # type: ignore[arg-type]
    profile = stored.profile.set_index("member_id")
    assert set(TIER_COLUMNS) <= set(profile.columns)
    replayed = tiers_as_of(transactions, parse_programme(SCALED), date.fromisoformat(AS_OF)).set_index("member_id")
    assert profile["tier"].astype(str).to_dict() == replayed["tier"].astype(str).to_dict()
    assert profile["tier"].nunique() >= 3  # the scaled ladder is actually climbed
    card_holders = profile[profile["tier"] != "vip"]
    from_model = card_holders[VALUE_COLUMN].notna()
    assert from_model.any()
    assert (card_holders.loc[from_model, "downgrade_risk_basis"] == VALUE_COLUMN).all()
    assert (card_holders.loc[~from_model, "downgrade_risk_basis"] == "pace").all()
    scores = score_frame({}, stored.model_inputs(), stored.profile, stored.as_of)
    assert list(scores.columns) == list(OUTPUT_COLUMNS) and scores["tier_change"].notna().all()
