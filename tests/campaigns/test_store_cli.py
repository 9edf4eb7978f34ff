"""``memberscore campaign create | list | show | import`` on a hand-built snapshot and small exposures files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from campaigns.store import open_store
from cli.main import app

RUNNER = CliRunner()


def run(*args: str) -> Result:
    return RUNNER.invoke(app, ["campaign", *args])


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_create_writes_the_contact_list_and_list_and_show_find_it(db: str, tmp_path: Path) -> None:
    out = tmp_path / "contacts.csv"
    created = run("create", "--campaign", "winback", "--limit", "100", "--holdout-share", "0.1", "--name", "june",
                  "--cost-per-contact", "0.5", "--margin-rate", "0.4", "--out", str(out))
    assert created.exit_code == 0, created.output
    assert "90 treatment, 10 control" in created.output and "detectable effect on spend per member over 30 days" in created.output
    campaign_id = created.output.split()[1]
    store = open_store(db)
    control = set(store.members("default", campaign_id, "control")["member_id"])
    listed = rows(out)
    assert len(listed) == 90 and not control & {row["member_id"] for row in listed}
    assert campaign_id in run("list").output
    shown = json.loads(run("show", "--id", campaign_id).output)
    assert shown["arms"] == {"treatment": 90, "control": 10} and shown["campaign"]["cost_per_contact"] == 0.5
    again = tmp_path / "again.csv"
    assert run("show", "--id", campaign_id, "--out", str(again)).exit_code == 0
    assert sorted(r["member_id"] for r in rows(again)) == sorted(r["member_id"] for r in listed)
    other = run("list", "--project", "elsewhere")
    assert campaign_id not in other.output and "no campaign in project 'elsewhere'" in other.output


@pytest.mark.parametrize(("args", "message"), [
    (["--holdout-share", "1.5"], "error: --holdout-share: Input should be less than 1"),
    (["--campaign", "nope"], "error: --campaign: unknown campaign 'nope'"),
    (["--margin-rate", "0"], "error: --margin-rate: Input should be greater than 0"),
    (["--stage", "asleep"], "error: --stage: unknown 'asleep'"),
    (["--limit", "20"], "error: --holdout-share: 0.1 of 20 members leaves no control member"),
])
def test_bad_options_stop_with_one_line_naming_the_option(db: str, args: list[str], message: str) -> None:
    base = {"--campaign": "winback", "--limit": "100", "--name": "x"}
    for option, value in zip(args[::2], args[1::2]):
        base[option] = value
    result = run("create", *[part for pair in base.items() for part in pair])
    assert result.exit_code == 2 and result.output.strip().startswith(message), result.output
    assert len(result.output.strip().splitlines()) == 1


def test_show_an_unknown_id_is_one_line(db: str) -> None:
    result = run("show", "--id", "cmp_nope")
    assert result.exit_code == 2 and result.output.strip() == "error: --id: no campaign 'cmp_nope' in project 'default'"


EXPOSURES = """member;campaign;sent_at;arm;cost
m1;spring;13/05/2024 09:00;treated;0,50
m2;spring;13/05/2024 09:05;control;
m3;spring;14/05/2024 10:00;Treated;1,50
m4;spring;14/05/2024 10:00;maybe;0,50
;spring;14/05/2024 10:00;treated;0,50
m1;spring;15/05/2024 10:00;treated;0,50
m5;spring;31/02/2024 10:00;treated;0,50
m6;spring;14/05/2024 10:00;treated;-1
m7;autumn;20/09/2024 08:00;treated;2
m8;autumn;21/09/2024 08:00;treated;
"""


def test_import_records_each_campaign_counts_bad_rows_and_writes_them(db: str, tmp_path: Path) -> None:
    path = tmp_path / "sent.csv"
    path.write_text(EXPOSURES, encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("dayfirst: true\ndecimal: ','\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    result = run("import", "--exposures", str(path), "--mapping", str(mapping), "--name", "crm", "--rejects",
                 str(rejects), "--margin-rate", "0.3", "--window-days", "14")
    assert result.exit_code == 0, result.output
    assert "read 10 rows: 5 kept, 5 rejected" in result.output
    written = {row["_reason"]: row["_line"] for row in rows(rejects)}
    assert written == {"unknown arm": "5", "missing member": "6", "repeated member": "7", "unparseable sent_at": "8",
                       "bad cost": "9"}
    store = open_store(db)
    by_name = {r.name: r for r in store.list("default")}
    spring, autumn = by_name["crm: spring"], by_name["crm: autumn"]
    assert (spring.type, spring.design, spring.external_id, str(spring.start)) == ("imported", "randomised", "spring",
                                                                                     "2024-05-13")
    assert spring.holdout_share == pytest.approx(1 / 3) and spring.cost_per_contact == pytest.approx(1.0)  # (0.5 + 1.5) / 2
    assert (spring.window_days, spring.margin_rate) == (14, 0.3)
    assert store.arm_counts("default", spring.id) == {"treatment": 2, "control": 1}
    assert (autumn.design, autumn.holdout_share, autumn.cost_per_contact) == ("observational", None, 2.0)
    assert sorted(store.members("default", autumn.id)["member_id"]) == ["m7", "m8"]
    again = run("import", "--exposures", str(path), "--mapping", str(mapping), "--name", "crm", "--rejects", str(rejects))
    assert again.exit_code == 2 and "already has a campaign named 'crm: spring'" in again.output
    assert len(store.list("default")) == 2  # nothing stored twice, nothing half-stored


def test_import_without_arms_is_observational_and_unclear_dates_are_refused(db: str, tmp_path: Path) -> None:
    path = tmp_path / "sent.csv"
    path.write_text("member,campaign,sent_at\na,c1,2024-05-13\nb,c1,2024-05-13\n", encoding="utf-8")
    result = run("import", "--exposures", str(path), "--name", "mail", "--cost-per-contact", "0.2")
    assert result.exit_code == 0, result.output
    assert "(imported, 'mail', observational): 2 treatment, 0 control" in result.output
    unclear = tmp_path / "unclear.csv"
    unclear.write_text("member,campaign,sent_at\na,c1,01/02/2024\nb,c1,03/04/2024\n", encoding="utf-8")
    refused = run("import", "--exposures", str(unclear), "--name", "other")
    assert refused.exit_code == 2 and "dayfirst" in refused.output and len(refused.output.strip().splitlines()) == 1
    missing = tmp_path / "missing.csv"
    missing.write_text("member,when\na,2024-05-13\n", encoding="utf-8")
    gone = run("import", "--exposures", str(missing), "--name", "third")
    assert gone.exit_code == 2 and "column 'campaign' (mapped to campaign) not found" in gone.output


@pytest.mark.slow
def test_create_from_the_trained_champion_and_snapshot_end_to_end(use_trained: object, tmp_path: Path) -> None:
    """The real wiring: the project's champions from MLflow, its newest snapshot, the store by --db."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    out = tmp_path / "contacts.csv"
    result = RUNNER.invoke(app, ["campaign", "create", "--campaign", "winback", "--limit", "200", "--name", "real",
                                 "--db", url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = open_store(url).list("default")[0]
    assert record.model_versions.get("churn", "").isdigit()  # the champion's MLflow version
    assert record.snapshot_as_of == record.start and record.power and record.power["spend_per_member"] > 0
    assert len(rows(out)) == open_store(url).arm_counts("default", record.id)["treatment"] == 180
