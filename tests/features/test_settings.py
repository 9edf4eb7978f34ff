"""One settings object, read at the edge: every variable parsed, bad values named, nothing read below.

The settings themselves are exercised where they act (tests of the store, limits, pseudonyms,
snapshot shrink); here: parsing, the one-line errors, the README's table and the no-reads rule.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from features.settings import Settings, documented, load_settings, variable

REPO = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("features", "models", "campaigns", "training", "serving")
# The one reader, and Spark's process plumbing: JAVA_HOME and PYSPARK_PYTHON are set for the JVM and
# the Python workers Spark starts (not settings of memberscore).
MAY_TOUCH_ENVIRON = {"features/settings.py", "features/spark.py"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in documented():
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("value", "expected"), [(None, "duckdb"), ("", "duckdb"), ("duckdb", "duckdb"),
                                                 ("Spark ", "spark")])
def test_engine_comes_from_memberscore_engine(monkeypatch: pytest.MonkeyPatch, value: str | None,
                                              expected: str) -> None:
    if value is not None:
        monkeypatch.setenv("MEMBERSCORE_ENGINE", value)
    assert load_settings().engine == expected


def test_an_unknown_engine_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERSCORE_ENGINE", "polars")
    with pytest.raises(ValueError, match=r"^MEMBERSCORE_ENGINE 'polars': .*'duckdb' or 'spark'"):
        load_settings()


def test_defaults_when_nothing_is_set() -> None:
    settings = load_settings()
    assert (settings.project, settings.snapshot_dir, settings.poll_seconds, settings.min_snapshot_ratio) == (
        "default", Path("var/snapshots"), 5.0, 0.5)
    assert settings.mlflow_tracking_uri is None and settings.pseudonym_key is None and not settings.insecure_no_auth
    assert settings.duckdb_memory_limit is None
    assert settings.plain_api_keys() == []


def test_values_are_parsed_and_blank_means_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMBERSCORE_API_KEYS", f" {'1' * 24} ,,{'2' * 30} ")
    monkeypatch.setenv("MEMBERSCORE_POLL_SECONDS", "0.5")
    monkeypatch.setenv("MEMBERSCORE_INSECURE_NO_AUTH", "yes")
    monkeypatch.setenv("MEMBERSCORE_SPARK_MASTER", "  ")
    monkeypatch.setenv("MEMBERSCORE_DUCKDB_MEMORY_LIMIT", " 1.5GiB ")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/m.db")
    settings = load_settings()
    assert settings.plain_api_keys() == ["1" * 24, "2" * 30] and settings.poll_seconds == 0.5 and settings.insecure_no_auth
    assert settings.spark_master is None and settings.mlflow_tracking_uri == f"sqlite:///{tmp_path}/m.db"
    assert settings.duckdb_memory_limit == "1.5GiB"  # stripped, as DuckDB reads it
    assert "1" * 24 not in repr(settings)  # secrets never print


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("MEMBERSCORE_POLL_SECONDS", "-1", "greater than or equal to 0"),
    ("MEMBERSCORE_POLL_SECONDS", "soon", "valid number"),
    ("MEMBERSCORE_PROJECT", "Shop A", "a project name is"),
    ("MEMBERSCORE_INSECURE_NO_AUTH", "maybe", "valid boolean"),
    ("MEMBERSCORE_DUCKDB_MEMORY_LIMIT", "lots", "a number and a unit, e.g. 4GB"),
    ("MEMBERSCORE_DUCKDB_MEMORY_LIMIT", "4", "a number and a unit, e.g. 4GB"),
    ("MEMBERSCORE_PSEUDONYM_KEY", "s3cr3t-k", "too short"),
    ("MEMBERSCORE_API_KEYS", "a" * 30 + ",short-admin-key-1234", "key 2 of 2 has 20 characters; API keys need at least 24"),
])
def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                                     reason: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as error:
        load_settings()
    message = str(error.value)
    assert reason in message and "\n" not in message
    secret = name in ("MEMBERSCORE_PSEUDONYM_KEY", "MEMBERSCORE_API_KEYS")  # the value of a secret is never echoed
    assert message.startswith(f"{name}: " if secret else f"{name} {value!r}: ") and (value not in message) == secret


def test_a_cli_option_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERSCORE_PROJECT", "from-env")
    assert load_settings(project="from-option").project == "from-option"


def test_variable_names() -> None:
    assert variable("mlflow_tracking_uri") == "MLFLOW_TRACKING_URI"
    assert variable("snapshot_dir") == "MEMBERSCORE_SNAPSHOT_DIR"
    assert set(documented()) == {variable(field) for field in Settings.model_fields}


def test_the_readme_documents_every_setting_in_one_table() -> None:
    """Each variable is a row of the README's settings table, with its default."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([A-Z_]+)` \| `?([^|`]*)`? \|", readme, re.MULTILINE)}
    for name, (default, _description) in documented().items():
        assert name in rows, f"README settings table lacks {name}"
        assert rows[name].strip() == (default or "(unset)"), name


def _environ_uses(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"
            and node.attr in ("environ", "getenv", "putenv")]


def test_nothing_below_the_edge_reads_the_environment() -> None:
    """Only the settings module reads it (and Spark's plumbing sets the JVM's); the service and the CLI
    get values from ``load_settings``."""
    found = [f"{path.relative_to(REPO)}:{line}"
             for package in PRODUCT_PACKAGES for path in sorted((REPO / package).rglob("*.py"))
             if str(path.relative_to(REPO)) not in MAY_TOUCH_ENVIRON for line in _environ_uses(path)]
    assert found == []


def test_the_rule_check_sees_a_read(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\n\ndef f():\n    return os.environ.get('X'), os.getenv('Y')\n")
    assert _environ_uses(module) == [4, 4]
