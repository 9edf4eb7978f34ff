"""The dependency rule of ARCHITECTURE.md: features -> models -> campaigns -> training | serving -> cli.

Every import in the packages' source (lazy imports inside functions and ``TYPE_CHECKING`` blocks
included) is read from the AST, so a module that reaches a layer above or beside it fails here,
naming the file, the line and what it imported. And the service process, started as the Bento
starts it, loads no training module and no matplotlib (a fresh interpreter, so nothing a test
imported earlier hides it).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# package -> the first-party packages its modules may import (itself included)
ALLOWED: dict[str, frozenset[str]] = {
    "features": frozenset({"features"}),
    "models": frozenset({"features", "models"}),
    "campaigns": frozenset({"features", "models", "campaigns"}),
    "training": frozenset({"features", "models", "campaigns", "training"}),
    "serving": frozenset({"features", "models", "campaigns", "serving"}),
    "cli": frozenset({"features", "models", "campaigns", "training", "serving", "cli"}),
}


def imported_modules(tree: ast.AST, package: str) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every import in ``tree``; relative imports resolve within ``package``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, package if node.level else (node.module or "")


def violations(root: Path, allowed: dict[str, frozenset[str]] = ALLOWED) -> list[str]:
    """Every import under ``root``'s packages that the rule forbids, as ``path:line imports module``."""
    found = []
    for package, may_import in allowed.items():
        for path in sorted((root / package).rglob("*.py")):
            for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8")), package):
                top = module.split(".")[0]
                if top in allowed and top not in may_import:
                    found.append(f"{path.relative_to(root)}:{line} imports {module} "
                                 f"({package} may import {', '.join(sorted(may_import))})")
    return found


def test_no_module_imports_against_the_dependency_rule() -> None:
    assert violations(REPO) == []


def test_the_rule_check_names_a_lazy_import_of_training_in_serving(tmp_path: Path) -> None:
    """The check itself: a function-level import of training in serving, and a relative import, are read."""
    (tmp_path / "serving").mkdir()
    (tmp_path / "serving" / "bad.py").write_text("import json\n\ndef f():\n    from training.fit import fit_booster\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "ok.py").write_text("from . import tasks\nfrom features.contract import TS\n")
    (tmp_path / "models" / "worse.py").write_text("import serving.scoring\n")
    assert violations(tmp_path) == [
        "models/worse.py:1 imports serving.scoring (models may import features, models)",
        "serving/bad.py:4 imports training.fit (serving may import campaigns, features, models, serving)",
    ]


def modules_loaded_by(imports: str, roots: tuple[str, ...]) -> list[str]:
    """The modules under ``roots`` that ``import <imports>`` loads in a fresh interpreter."""
    probe = (f"import json, sys, {imports}; "
             f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r})))")
    completed = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return list(json.loads(completed.stdout.strip().splitlines()[-1]))


@pytest.mark.slow  # a few seconds: runs in `make test`, not in test-fast
def test_the_service_process_loads_no_training_module_and_no_matplotlib() -> None:
    """What a worker imports (the service and its scoring half, ``serving.answers``), in a fresh interpreter."""
    assert modules_loaded_by("serving.service, serving.answers", ("training", "cli", "matplotlib")) == []


SCORING_LIBRARIES = ("mlflow", "xgboost", "shap", "ibis", "duckdb", "pyarrow", "sqlalchemy", "sklearn", "scipy",
                     "pandas", "matplotlib")


@pytest.mark.slow  # a few seconds: runs in `make test`, not in test-fast
def test_bentomls_supervisor_imports_the_service_without_any_scoring_library() -> None:
    """BentoML's supervisor imports the service module only to read its configuration; the libraries
    that score are the worker's (``serving.answers``, imported when the service starts)."""
    assert modules_loaded_by("serving.service", SCORING_LIBRARIES) == []
    assert {"mlflow", "xgboost", "ibis", "sqlalchemy"} <= {m.split(".")[0] for m in modules_loaded_by(
        "serving.service, serving.answers", SCORING_LIBRARIES)}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_every_package_is_installed(package: str) -> None:
    """A package the rule names is one setuptools installs (else the console script could not import it)."""
    found = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    assert f"{package}*" in found


def test_the_console_script_is_the_cli_app() -> None:
    """``memberscore`` runs ``cli.main:app``, the app ``python -m cli`` runs."""
    import typer

    from cli.main import app

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"memberscore": "cli.main:app"}
    assert isinstance(app, typer.Typer)
