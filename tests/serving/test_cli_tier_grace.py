"""``memberscore snapshot`` keeps the tier downgrade grace across the snapshots of its store.

Two stores get a snapshot as of 2024-03-01 of the same transactions; only one already holds the
2024-01-01 snapshot. Every tier that differs between them must be last period's tier kept over a
lower one; nothing else may change. (The rule's arithmetic is pinned in
tests/features/test_tier_grace.py; here the wiring of the command to the store is checked.)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from features.project import DEFAULT_PROJECT
from features.segment_rules import read_segment_rules
from features.store import latest_snapshot_path, read_snapshot

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LAST_PERIOD, THIS_PERIOD = "2024-01-01", "2024-03-01"
runner = CliRunner()


@pytest.fixture(scope="module")
def transactions_csv(synthetic: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 300 simulated members (ids m00000 .. m00299), enough for a grace band to fill."""
    path = tmp_path_factory.mktemp("grace_data") / "tx.csv"
    transactions = synthetic[0]
    transactions[transactions["member_id"] < "m00300"].to_csv(path, index=False)
    return path


def snapshot_into(store: Path, transactions: Path, as_of: str, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    """Run the command against ``store``; the newest stored profile indexed by member id."""
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(store))
    result = runner.invoke(app, ["snapshot", "--transactions", str(transactions), "--as-of", as_of])
    assert result.exit_code == 0, result.output
    path = latest_snapshot_path(store / DEFAULT_PROJECT)
    assert path is not None
    return read_snapshot(path).profile.set_index("member_id")


def test_snapshot_command_grants_grace_from_the_previous_snapshot(
    transactions_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = snapshot_into(tmp_path / "kept", transactions_csv, LAST_PERIOD, monkeypatch)["tier"]
    graced = snapshot_into(tmp_path / "kept", transactions_csv, THIS_PERIOD, monkeypatch)
    plain = snapshot_into(tmp_path / "fresh", transactions_csv, THIS_PERIOD, monkeypatch)
    pd.testing.assert_frame_equal(graced.drop(columns="tier"), plain.drop(columns="tier"))
    rank = {tier: i for i, tier in enumerate(read_segment_rules().tiers.labels)}
    changed = graced.index[graced["tier"] != plain["tier"]]
    assert len(changed) > 0  # some members' spend fell into the grace band between the periods
    for member in changed:
        kept, earned = graced.at[member, "tier"], plain.at[member, "tier"]
        assert kept == last[member] and rank[kept] > rank[earned], (member, last[member], earned, kept)
