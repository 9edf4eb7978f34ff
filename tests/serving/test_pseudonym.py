"""Keyed pseudonyms for exported target lists (issue 6, personal data).

The HMAC is checked against RFC 4231's published test vector, so the pseudonym is the standard
HMAC-SHA256 and not a home-made hash. The CLI and the service are checked end to end: the list
with ``--pseudonymise`` is the plain list with each id replaced by its pseudonym, nothing else.
"""

from __future__ import annotations

import csv
import io
import string
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from features.settings import load_settings
from serving.pseudonym import KEY_ENV, MIN_KEY_CHARS, PSEUDONYM_HEX_CHARS, pseudonym, pseudonym_key, pseudonymised
from serving.schemas import TargetRow, TargetsRequest, TargetsResponse
from serving.targets import targets_csv

KEY = b"campaign-agency-2026-key"
OTHER_KEY = b"campaign-agency-2027-key"
runner = CliRunner()


def test_pseudonym_is_truncated_hmac_sha256_rfc4231_case_1() -> None:
    """RFC 4231 test case 1: key 0x0b x 20, data "Hi There" -> b0344c61d8db3853... (first 16 hex)."""
    assert pseudonym("Hi There", b"\x0b" * 20) == "b0344c61d8db3853"


def test_same_key_same_pseudonym_different_key_different() -> None:
    first, again, other = pseudonym("m00042", KEY), pseudonym("m00042", KEY), pseudonym("m00042", OTHER_KEY)
    assert first == again
    assert other != first
    assert len(first) == PSEUDONYM_HEX_CHARS and set(first) <= set(string.hexdigits.lower())


def test_distinct_ids_get_distinct_pseudonyms() -> None:
    """Ids differing in one character, or only by leading zeros, never share a pseudonym."""
    ids = [f"m{i:05d}" for i in range(5000)] + [str(i) for i in range(5000)] + ["0001", "001", "01", "1 "]
    assert len({pseudonym(member, KEY) for member in ids}) == len(set(ids))


@pytest.mark.parametrize(("value", "needle"), [(None, "not set"), ("", "not set"), ("   ", "not set"),
                                               ("x" * (MIN_KEY_CHARS - 1), "too short")],
                         ids=["unset", "empty", "blank", "short"])
def test_unusable_key_is_an_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str | None,
                                                      needle: str) -> None:
    """Too short stops the settings from loading; unset is an error only when pseudonyms are asked for."""
    if value is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, value)
    with pytest.raises(ValueError, match=KEY_ENV) as error:
        pseudonym_key(load_settings().pseudonym_key)
    assert needle in str(error.value)


def test_key_comes_from_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert pseudonym_key(load_settings().pseudonym_key) == KEY


def hand_built_list() -> TargetsResponse:
    rows = [TargetRow(rank=1, member_id="000731", score=12.5, expected_value=50.0, rfm_segment="at_risk",
                      percentile_global=100.0, percentile_in_segment=100.0, reasons=["no purchase for 90 days"]),
            TargetRow(rank=2, member_id="m-17", score=3.25, expected_value=13.0, tier="silver",
                      percentile_global=50.0, percentile_in_segment=100.0)]
    return TargetsResponse(campaign="winback", snapshot_as_of="2024-07-01", eligible=7, rows=rows)


def test_pseudonymised_list_replaces_only_the_ids() -> None:
    plain = hand_built_list()
    hidden = pseudonymised(plain, KEY)
    assert [row.member_id for row in hidden.rows] == [pseudonym("000731", KEY), pseudonym("m-17", KEY)]
    for before, after in zip(plain.rows, hidden.rows):
        assert after.model_dump(exclude={"member_id"}) == before.model_dump(exclude={"member_id"})
    assert hidden.model_dump(exclude={"rows"}) == plain.model_dump(exclude={"rows"})
    for text in (hidden.model_dump_json(), targets_csv(hidden)):
        assert "000731" not in text and "m-17" not in text
    assert [row.member_id for row in plain.rows] == ["000731", "m-17"]  # the input is left alone


def test_cli_pseudonymise_without_a_key_refuses_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No key: exit 2 with one line naming the variable, and no file written (not even raw ids)."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(tmp_path / "no-snapshots"))
    out = tmp_path / "list.csv"
    result = runner.invoke(app, ["targets", "--campaign", "winback", "--out", str(out), "--pseudonymise"])
    assert result.exit_code == 2, result.output
    assert KEY_ENV in result.stderr and "Traceback" not in result.output
    assert not out.exists()


def read_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


@pytest.mark.slow
def test_cli_pseudonymised_list_is_the_plain_list_with_pseudonyms(use_trained: object, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Same ranks, scores and reasons; each id replaced by its pseudonym; no raw id anywhere in the file."""
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    plain_path, hidden_path = tmp_path / "plain.csv", tmp_path / "hidden.csv"
    for path, extra in ((plain_path, []), (hidden_path, ["--pseudonymise"])):
        result = runner.invoke(app, ["targets", "--campaign", "winback", "--limit", "40", "--out", str(path), *extra])
        assert result.exit_code == 0, result.output
    plain, hidden = read_rows(plain_path), read_rows(hidden_path)
    assert len(plain) == len(hidden) > 0
    for before, after in zip(plain, hidden):
        assert after["member_id"] == pseudonym(before["member_id"], KEY)
        assert {k: v for k, v in after.items() if k != "member_id"} == {k: v for k, v in before.items() if k != "member_id"}
    text = hidden_path.read_text(encoding="utf-8")
    assert not [row["member_id"] for row in plain if row["member_id"] in text]


@pytest.mark.slow
def test_service_pseudonymise_without_a_key_is_a_422(use_trained: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API refuses ``?pseudonymise=true`` on a service without a key rather than send raw ids."""
    from fastapi import HTTPException

    from serving.service import MemberScoring

    monkeypatch.delenv(KEY_ENV, raising=False)
    service = MemberScoring()
    with pytest.raises(HTTPException) as refused:
        service.targets(TargetsRequest(campaign="winback", limit=5), pseudonymise=True)
    assert refused.value.status_code == 422 and KEY_ENV in str(refused.value.detail)
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    service = MemberScoring()  # settings are read when a service starts
    plain = service.targets(TargetsRequest(campaign="winback", limit=5))
    hidden = service.targets(TargetsRequest(campaign="winback", limit=5), pseudonymise=True)
    assert [row.member_id for row in hidden.rows] == [pseudonym(row.member_id, KEY) for row in plain.rows]
