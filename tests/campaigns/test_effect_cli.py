"""memberscore campaign effect end to end: simulate a campaign, import its exposures, measure it, read it over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaigns.store import open_store
from cli.main import app
from tests.campaigns.test_store_lists import client_for

RUNNER = CliRunner()


def _imported(tmp_path: Path, assignment: str, db: str) -> tuple[str, dict[str, float]]:
    out = tmp_path / f"{assignment}.csv"
    simulated = RUNNER.invoke(app, ["simulate", "--members", "1000", "--out", str(out), "--campaign", assignment,
                                    "--days", "200", "--seed", "2"])
    assert simulated.exit_code == 0, simulated.output
    imported = RUNNER.invoke(app, ["campaign", "import", "--exposures", str(tmp_path / f"{assignment}.exposures.csv"),
                                   "--name", assignment, "--cost-per-contact", "1", "--margin-rate", "0.3", "--db", db])
    assert imported.exit_code == 0, imported.output
    campaign_id = next(word for word in imported.output.split() if word.startswith("cmp_"))
    return campaign_id, json.loads((tmp_path / f"{assignment}.truth.json").read_text())


def test_a_randomised_import_is_measured_kept_and_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'campaigns.db'}"
    campaign_id, truth = _imported(tmp_path, "random", db)
    store = open_store(db)
    client = client_for(store, "default", monkeypatch)
    assert client.get(f"/campaigns/{campaign_id}/effect").status_code == 404  # not measured yet: said, not empty
    measured = RUNNER.invoke(app, ["campaign", "effect", "--id", campaign_id, "--transactions",
                                   str(tmp_path / "random.csv"), "--db", db])
    assert measured.exit_code == 0, measured.output
    answer = json.loads(measured.stdout[measured.stdout.index("{"):])
    assert answer["design"] == "randomised" and answer["verdict"] == "identified"
    effect = answer["incremental_spend_per_member"]
    assert effect["ci_low"] <= truth["average_effect"] <= effect["ci_high"]
    assert answer["roi"]["estimate"] == pytest.approx(0.3 * effect["estimate"] - 1.0, abs=1e-3)  # cost 1 per contact
    served = client.get(f"/campaigns/{campaign_id}/effect")
    assert served.status_code == 200 and served.json()["incremental_spend_per_member"] == effect
    assert "measured" in served.json()
    assert client.get("/campaigns/cmp_nothing/effect").status_code == 404


def test_a_targeted_import_is_measured_as_observational(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'campaigns.db'}"
    campaign_id, _ = _imported(tmp_path, "trend", db)
    measured = RUNNER.invoke(app, ["campaign", "effect", "--id", campaign_id, "--transactions",
                                   str(tmp_path / "trend.csv"), "--db", db])
    assert measured.exit_code == 0, measured.output
    answer = json.loads(measured.stdout[measured.stdout.index("{"):])
    assert answer["design"] == "observational" and "balance" in answer and "placebo" in answer
    if answer["verdict"] == "not identified":
        assert answer["incremental_spend_per_member"] is None


def test_an_unknown_campaign_is_one_line(tmp_path: Path) -> None:
    transactions = tmp_path / "t.csv"
    transactions.write_text("member_id,ts,amount\na,2024-01-01,5\n")
    result = RUNNER.invoke(app, ["campaign", "effect", "--id", "cmp_none", "--transactions", str(transactions),
                                 "--db", f"sqlite:///{tmp_path / 'c.db'}"])
    assert result.exit_code == 2 and "cmp_none" in result.output and "Traceback" not in result.output
