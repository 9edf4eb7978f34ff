"""An uplift model learnt from the project's own randomised campaign: rows are the snapshot as of the
start (nothing from the window leaks in), the outcome is the window's, only a randomised campaign
with enough members and a finished window is used, and ``memberscore campaign uplift`` registers it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from campaigns.outcomes import spend_between
from campaigns.record import OBSERVATIONAL, CampaignRecord
from campaigns.simulate import simulate_campaign
from cli.main import app
from features.contract import MEMBER_ID, TS
from features.snapshot import build_snapshot
from models import catalog
from training.uplift_campaign import campaign_examples, check_trainable


def record_for(start: object, design: str = "randomised") -> CampaignRecord:
    return CampaignRecord(id="cmp_t", project="shop", name="t", type="winback", created=datetime.now(UTC),
                          start=start, window_days=30, cost_per_contact=0.0, margin_rate=1.0, design=design)  # type: ignore[arg-type]


def test_only_a_randomised_campaign_with_enough_members_and_a_finished_window_is_used() -> None:
    planted = simulate_campaign(100, "random", seed=1)
    members = planted.members.assign(score=np.nan)
    with pytest.raises(ValueError, match="id: campaign 'cmp_t' is observational; an uplift model needs a randomised"):
        check_trainable(record_for(planted.start, OBSERVATIONAL), members, planted.transactions)
    with pytest.raises(ValueError, match="at least 30 per arm"):
        check_trainable(record_for(planted.start), members.head(40), planted.transactions)
    before_end = planted.transactions[planted.transactions[TS] < pd.Timestamp(planted.start + timedelta(days=20))]
    with pytest.raises(ValueError, match="transactions: they end before the campaign's window does"):
        check_trainable(record_for(planted.start), members, before_end)


@pytest.mark.slow
def test_rows_are_the_snapshot_as_of_the_start_and_the_outcome_is_the_window() -> None:
    planted = simulate_campaign(300, "random", seed=4)
    members = planted.members.assign(score=np.linspace(1, 0, 300))
    found = campaign_examples(record_for(planted.start), members, planted.transactions)
    before = planted.transactions[planted.transactions[TS] < pd.Timestamp(planted.start)]
    expected = build_snapshot(before, planted.start).model_inputs().set_index(MEMBER_ID)
    pd.testing.assert_frame_equal(found.features, expected.reindex(found.features.index), check_names=False)
    ids = members[MEMBER_ID]
    end = planted.start + timedelta(days=30)
    assert np.array_equal(found.outcome, spend_between(planted.transactions, ids, planted.start, end))
    assert found.treated.tolist() == members["arm"].eq("treatment").astype(int).tolist()
    assert found.current_score is not None and found.current_score[0] == 1.0
    assert found.outcome_name == "spend_30d"
    bought = campaign_examples(record_for(planted.start), members.assign(score=np.nan), planted.transactions, "bought")
    assert set(np.unique(bought.outcome)) <= {0.0, 1.0} and bought.current_score is None


PROJECT = "uplift-campaign"  # its own project in the session's registry (use_trained: already migrated)


@pytest.mark.slow
def test_campaign_uplift_registers_the_model_of_the_campaign(tmp_path: Path, use_trained: object) -> None:
    db = f"sqlite:///{tmp_path / 'campaigns.db'}"
    runner = CliRunner()
    out = tmp_path / "random.csv"
    simulated = runner.invoke(app, ["simulate", "--members", "1000", "--out", str(out), "--campaign", "random",
                                    "--days", "200", "--seed", "2"])
    assert simulated.exit_code == 0, simulated.output
    imported = runner.invoke(app, ["campaign", "import", "--exposures", str(tmp_path / "random.exposures.csv"),
                                   "--name", "random", "--db", db, "--project", PROJECT])
    assert imported.exit_code == 0, imported.output
    campaign_id = next(word for word in imported.output.split() if word.startswith("cmp_"))
    result = runner.invoke(app, ["campaign", "uplift", "--id", campaign_id, "--transactions", str(out), "--db", db,
                                 "--project", PROJECT])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout[result.stdout.index("{"):])
    assert answer["campaign_id"] == campaign_id and answer["held_out_members"] == 300
    assert set(answer["rankings"]) == {"model", "outcome_model"}  # an imported list has no score of its own
    model = answer["rankings"]["model"]
    assert model["qini_low"] <= model["qini"] <= model["qini_high"]
    version = answer["version"]
    assert catalog.alias_version("uplift", catalog.CHALLENGER, project=PROJECT) == version
    assert catalog.alias_version("uplift", catalog.CHAMPION, project=PROJECT) == (version if answer["promoted"] else None)
    run = mlflow.get_run(catalog.version_run_id("uplift", version, project=PROJECT))
    assert run.data.tags["campaign_id"] == campaign_id and run.data.params["outcome"] == "spend_30d"
    missing = runner.invoke(app, ["campaign", "uplift", "--id", "cmp_nope", "--transactions", str(out), "--db", db,
                                  "--project", PROJECT])
    assert missing.exit_code == 2
    assert missing.output.strip() == f"error: --id: no campaign 'cmp_nope' in project '{PROJECT}'"
