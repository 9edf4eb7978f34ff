"""examples/: the daily refresh from cron, a systemd timer and an Airflow DAG call ``memberscore refresh`` once a day,
and treat its exit codes (features.refresh_outcome) alike: 0 and 3 succeed, 4 is flagged.

Airflow is not a dependency: the DAG file is always parsed and its command and schedule read from
its syntax tree; where Airflow is installed it is also loaded by Airflow's own DagBag.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import re
import subprocess
from pathlib import Path

from features.refresh_outcome import EXIT_ALERT, EXIT_RETRAINED

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DAG_FILE = EXAMPLES / "airflow" / "memberscore_refresh_dag.py"
DAILY_CRON = re.compile(r"^[0-5]?\d [0-2]?\d \* \* \*$")
COMMAND = re.compile(r"memberscore refresh --transactions \S+ (--mapping \S+ )?--project \S+")


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def test_the_systemd_timer_runs_the_service_daily_and_3_is_a_success() -> None:
    service, timer = (_unit(EXAMPLES / "systemd" / f"memberscore-refresh.{kind}") for kind in ("service", "timer"))
    assert COMMAND.search(service["Service"]["ExecStart"]) and service["Service"]["Type"] == "oneshot"
    assert service["Service"]["SuccessExitStatus"].split() == [str(EXIT_RETRAINED)]  # 4 fails the unit: flagged
    assert service["Service"]["UMask"] == "0077"
    on_calendar = timer["Timer"]["OnCalendar"]
    assert on_calendar == "daily" or re.fullmatch(r"\*-\*-\* \d\d:\d\d(:\d\d)?", on_calendar), on_calendar
    assert timer["Timer"]["Persistent"] == "true" and timer["Install"]["WantedBy"] == "timers.target"


def test_the_cron_line_runs_daily_and_speaks_only_when_a_person_should_look() -> None:
    lines = [line for line in (EXAMPLES / "cron" / "memberscore-refresh").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(lines) == 1
    fields = lines[0].split(maxsplit=6)
    assert DAILY_CRON.match(" ".join(fields[:5])) and fields[5] == "memberscore" and COMMAND.search(fields[6])
    assert "%" not in fields[6]  # cron would cut the command at a bare %


def test_the_cron_lines_exit_handling_prints_for_4_and_2_only(tmp_path: Path) -> None:
    """The part after the command, run by sh for each exit code: silent for 0 and 3."""
    line = (EXAMPLES / "cron" / "memberscore-refresh").read_text(encoding="utf-8").splitlines()[-1]
    handling = line[line.index("; code=$?"):].replace("var/refresh.out", str(tmp_path / "out"))
    (tmp_path / "out").write_text("run summary\n", encoding="utf-8")
    printed = {code: subprocess.run(["sh", "-c", f"(exit {code}){handling}"], capture_output=True, text=True).stdout
               for code in (0, 2, 3, EXIT_ALERT)}
    assert printed[0] == printed[3] == ""
    assert printed[EXIT_ALERT].startswith("memberscore refresh exited 4") and "run summary" in printed[EXIT_ALERT]
    assert printed[2].startswith("memberscore refresh exited 2")


def _constants(tree: ast.Module) -> dict[str, str]:
    """The DAG file's module-level string constants, f-strings joined from the constants before them."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.JoinedStr):
                found[node.targets[0].id] = "".join(
                    str(part.value) if isinstance(part, ast.Constant) else found[part.value.id]  # type: ignore[attr-defined]
                    for part in value.values)
            elif isinstance(value, ast.Constant) and isinstance(value.value, str):
                found[node.targets[0].id] = value.value
    return found


def test_the_airflow_dag_calls_the_command_daily_and_maps_3_to_success(tmp_path: Path) -> None:
    source = DAG_FILE.read_text(encoding="utf-8")
    tree = ast.parse(source)
    compile(tree, str(DAG_FILE), "exec")
    constants = _constants(tree)
    assert COMMAND.search(constants["COMMAND"]) and DAILY_CRON.match(constants["SCHEDULE"])
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "BashOperator"]
    assert len(calls) == 1 and {k.arg: getattr(k.value, "id", None) for k in calls[0].keywords}["bash_command"] == "BASH"
    script = tmp_path / "memberscore"  # the command stood in for by a script exiting with a given code
    script.write_text("#!/bin/sh\nexit $FAKE_CODE\n", encoding="utf-8")
    script.chmod(0o700)
    bash = constants["BASH"].replace(constants["COMMAND"], str(script))
    codes = {code: subprocess.run(["bash", "-c", bash], env={"FAKE_CODE": str(code)}, capture_output=True).returncode
             for code in (0, 2, EXIT_RETRAINED, EXIT_ALERT)}
    assert codes == {0: 0, 2: 2, EXIT_RETRAINED: 0, EXIT_ALERT: EXIT_ALERT}
    if importlib.util.find_spec("airflow") is not None:  # not a dependency; loaded for real where installed
        from airflow.models import DagBag

        bag = DagBag(dag_folder=str(DAG_FILE), include_examples=False)
        assert bag.import_errors == {} and "memberscore_refresh" in bag.dags


def test_every_examples_command_line_parses_with_the_real_cli() -> None:
    """The options each example passes are ``memberscore refresh``'s own (click parses them, nothing runs)."""
    import click
    import typer.main

    from cli.main import app

    group = typer.main.get_command(app)
    texts = [(EXAMPLES / "systemd" / "memberscore-refresh.service").read_text(encoding="utf-8"),
             (EXAMPLES / "cron" / "memberscore-refresh").read_text(encoding="utf-8")]
    lines = [match.group(0) for text in texts for match in COMMAND.finditer(text)]
    assert len(lines) == 2
    for line in lines:
        command = group.get_command(click.Context(group), "refresh")  # type: ignore[attr-defined]
        assert command is not None
        context = command.make_context("refresh", line.split()[2:])
        assert context.params["project"] == line.split()[-1]
