"""Logs never carry member ids or amounts (issue 6, personal data).

The scoring paths run with logging at INFO and everything they write to stdout and stderr is
scanned for every member id and every amount of the data: the CLI's ``snapshot``, ``score`` and
``targets`` in one subprocess whose root logger is at INFO, and the real server (its own INFO
access log and its audit log) answering good and bad /score, /targets, /explain and /score_features calls.

The data's amounts are moved above 1,000 (sign kept), so a number in the log equal to an amount
is a leak and not a coincidence with a timing or a count. The scanner proves it can fail by
finding every id and amount in the transactions file itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.serving.conftest import API_KEY, REPO, start_server, stop, trained_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ID_SHAPE = re.compile(r"m\d{5}")  # the simulator's member ids
DECIMAL = re.compile(r"\d+\.\d+")
AMOUNT_SHIFT = 1000.0
PSEUDONYM_KEY = "log-test-pseudonym-key-0001"
# Runs memberscore commands in one process with the root logger at INFO; a marker record proves
# INFO records reach the captured stream.
CLI_AT_INFO = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
logging.getLogger("memberscore.test").info("INFO logging on")
from cli.main import app
for args in json.loads(sys.argv[1]):
    try:
        app(args, prog_name="memberscore")
    except SystemExit as done:
        if done.code:
            raise
"""


@dataclass(frozen=True)
class PrivateData:
    transactions: pd.DataFrame
    csv: Path


def leaks(text: str, transactions: pd.DataFrame) -> list[str]:
    """Every member id and amount (as ``f"{abs(amount):.2f}"``) of ``transactions`` that appears in ``text``.

    An amount counts in either common spelling: two decimals (1004.20) or Python's repr (1004.2).
    """
    ids = set(transactions["member_id"].astype(str))
    amounts = {form: f"{value:.2f}" for value in transactions["amount"].abs().astype(float)
               for form in (f"{value:.2f}", repr(value))}
    found = {amounts[token] for token in DECIMAL.findall(text) if token in amounts}
    return sorted((set(ID_SHAPE.findall(text)) & ids) | found)


@pytest.fixture(scope="module")
def private(synthetic: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> PrivateData:
    """The session's synthetic transactions with amounts above 1,000, as a CSV on the contract."""
    transactions = synthetic[0].copy()
    transactions["amount"] = (transactions["amount"] + np.sign(transactions["amount"]) * AMOUNT_SHIFT).round(2)
    path = tmp_path_factory.mktemp("private") / "transactions.csv"
    transactions.to_csv(path, index=False)
    return PrivateData(transactions, path)


def test_the_scanner_finds_ids_and_amounts(private: PrivateData) -> None:
    """Every id and amount of the data is found in the data file: a leak cannot slip past the scan."""
    found = set(leaks(private.csv.read_text(encoding="utf-8"), private.transactions))
    assert set(private.transactions["member_id"].astype(str)) <= found
    assert {f"{abs(a):.2f}" for a in private.transactions["amount"].iloc[[0, 7, -1]]} <= found


def test_cli_scoring_logs_no_ids_or_amounts(use_trained: object, private: PrivateData, tmp_path: Path) -> None:
    """snapshot, score and targets (plain and pseudonymised) at INFO: nothing personal in the output."""
    env = {**_environment(use_trained), "MEMBERSCORE_SNAPSHOT_DIR": str(tmp_path / "snapshots"),
           "MEMBERSCORE_PSEUDONYM_KEY": PSEUDONYM_KEY}
    commands = [
        ["snapshot", "--transactions", str(private.csv)],
        ["score", "--transactions", str(private.csv), "--as-of", "2024-03-01", "--out", str(tmp_path / "scores.csv")],
        ["targets", "--campaign", "winback", "--limit", "50", "--out", str(tmp_path / "winback.csv")],
        ["targets", "--campaign", "winback", "--limit", "50", "--out", str(tmp_path / "hidden.json"), "--pseudonymise"],
    ]
    completed = subprocess.run([sys.executable, "-c", CLI_AT_INFO, json.dumps(commands)], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=600)
    log = completed.stdout + completed.stderr
    assert completed.returncode == 0, log[-3000:]
    assert "INFO logging on" in log and "scored " in log and "winback: " in log
    assert (tmp_path / "scores.csv").stat().st_size > 0 and leaks((tmp_path / "winback.csv").read_text(), private.transactions)
    assert leaks(log, private.transactions) == []
    assert leaks((tmp_path / "hidden.json").read_text(), private.transactions) == []  # pseudonymised export


@pytest.fixture(scope="module")
def private_server(trained: object, private: PrivateData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real server on the session's champion and a snapshot of the private data, with a pseudonym key."""
    from features.snapshot import build_snapshot
    from features.store import write_snapshot

    root = tmp_path_factory.mktemp("private_server")
    end = private.transactions["ts"].max().date()
    write_snapshot(build_snapshot(private.transactions, end), root / "snapshots" / "default")
    env = {**trained_env(trained), "MEMBERSCORE_SNAPSHOT_DIR": str(root / "snapshots"),
           "MEMBERSCORE_PSEUDONYM_KEY": PSEUDONYM_KEY}
    running = start_server(root, env)
    try:
        yield running
    finally:
        stop(running.process)


def test_server_logs_no_ids_or_amounts(private_server: object, private: PrivateData) -> None:
    """Good and bad requests naming members and amounts: the INFO log names neither."""
    ids = sorted(set(private.transactions["member_id"].astype(str)))[:5]
    amount = f"{abs(private.transactions['amount'].iloc[0]):.2f}"
    with httpx.Client(base_url=private_server.base, timeout=60, headers={"X-API-Key": API_KEY}) as client:
        answers = {
            "score": client.post("/score", json={"member_ids": [*ids, "m99999"], "explain": 3}),
            "score_not_a_list": client.post("/score", json={"member_ids": ids[0]}),
            "score_unknown_field": client.post("/score", json={"member_ids": ids, "amount": float(amount)}),
            "explain": client.post("/explain", json={"member_id": ids[1]}),
            "explain_unknown": client.post("/explain", json={"member_id": "m99998"}),
            "targets": client.post("/targets", json={"campaign": "winback", "limit": 20,
                                                     "filters": {"exclude_member_ids": ids[2:4], "min_value": 1.0}}),
            "targets_csv": client.post("/targets?format=csv", json={"campaign": "winback", "limit": 20}),
            "targets_hidden": client.post("/targets?format=csv&pseudonymise=true", json={"campaign": "winback", "limit": 20}),
            "features_bad": client.post("/score_features", json={"rows": [{"member_id": ids[0], "features": {
                "monetary_sum": float(amount)}, "spend": float(amount)}]}),
        }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    refused = ("score_not_a_list", "score_unknown_field", "explain_unknown", "features_bad")
    assert all(400 <= statuses[name] < 500 if name in refused else statuses[name] == 200 for name in answers), statuses
    assert leaks(answers["targets_csv"].text, private.transactions)  # the plain list names members...
    assert leaks(answers["targets_hidden"].text, private.transactions) == []  # ...the pseudonymised one does not
    log = private_server.log(waiting_for="path=/score_features")  # the last request's access line
    assert "path=/score" in log and "path=/targets" in log  # the INFO access log was captured
    assert leaks(log, private.transactions) == []
    audit = private_server.audit_log(waiting_for='"route":"/score_features"')  # the last request's line
    assert audit.count('"route":"/score"') == 3 and audit.count('"route":"/targets"') == 3
    assert leaks(audit, private.transactions) == []


def test_refused_requests_log_a_line_not_a_traceback(private_server: object) -> None:
    """A malformed /score body is answered 422 naming the field; the log has its access line, no traceback.

    (Before one HTTP stack, BentoML answered /score 400 and logged a traceback a filter turned into a WARNING.)
    """
    with httpx.Client(base_url=private_server.base, timeout=60, headers={"X-API-Key": API_KEY}) as client:
        response = client.post("/score", json={"member_ids": "m00001", "explain": 3})
    assert response.status_code == 422
    assert response.json()["error"] == "member_ids: Input should be a valid list"
    log = private_server.log(waiting_for="status=422")
    assert "path=/score" in log and "status=422" in log
    assert "Traceback" not in log and "m00001" not in log


def _environment(trained: object) -> dict[str, str]:
    """This process's environment pointed at the trained stores (PYTHONPATH: the checkout)."""
    return {**os.environ, **trained_env(trained), "PYTHONPATH": str(REPO)}
