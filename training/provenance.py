"""What a training run records beside its data and config so that it can be re-run to the same model.

The pipeline records the data (fingerprint, cut-offs, horizon, features) and the config with its
seed; this module adds the code (commit, and whether the working tree had uncommitted changes) and
the environment (Python, platform, the versions of the libraries that decide the numbers, and
every installed distribution as a pinned requirements file). XGBoost's results can change between
releases, so without the versions "same data, same config, same seed" does not pin the model.
"""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path

# Libraries whose version changes the fitted model or the features it sees; recorded as tags.
KEY_LIBRARIES = ("xgboost", "numpy", "pandas", "scikit-learn", "scipy", "duckdb", "ibis-framework", "pyarrow",
                 "mlflow", "shap", "memberscore")
VERSION_TAG_PREFIX = "version."
REQUIREMENTS_ARTIFACT = "environment/requirements.txt"


def library_versions(names: tuple[str, ...] = KEY_LIBRARIES) -> dict[str, str]:
    """Installed version of each distribution (``not installed`` when absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@functools.cache
def installed_requirements() -> str:
    """Every installed distribution as sorted ``name==version`` lines: ``pip install -r`` rebuilds the env.

    Read once per process: scanning every distribution's metadata took about a second for each of
    a run's five models, and what is installed does not change while a process trains.
    """
    pins = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            pins[name.lower()] = f"{name}=={distribution.version}"
    return "\n".join(pins[key] for key in sorted(pins)) + "\n"


def working_tree_state() -> str:
    """``clean`` or ``dirty`` (uncommitted changes to tracked files), ``unknown`` outside a checkout.

    A dirty tree means the commit alone does not give back the code that trained.
    """
    try:
        completed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                   text=True, check=True, cwd=Path(__file__).resolve().parent, timeout=30)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return "unknown"
    return "dirty" if completed.stdout.strip() else "clean"


def environment_tags() -> dict[str, str]:
    """Tags naming the interpreter, the platform, the working tree and the key library versions."""
    tags = {"python_version": platform.python_version(), "platform": platform.platform(),
            "git_tree": working_tree_state()}
    tags.update({VERSION_TAG_PREFIX + name: version for name, version in library_versions().items()})
    return tags
