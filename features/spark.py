"""Apache Spark as the feature engine: a session set up for memberscore, and Ibis on top of it.

Local mode (``local[2]``) in tests and on one machine; a cluster when ``MEMBERSCORE_SPARK_MASTER``
names one (``spark://host:7077``, ``yarn``, ``k8s://https://...``). Everything else a cluster
needs (executor memory, cores, the Python environment of executors) comes from Spark's usual
places: ``$SPARK_CONF_DIR/spark-defaults.conf`` or ``PYSPARK_SUBMIT_ARGS``. Requires the ``spark``
extra and Java 17 or 21.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ibis.backends import BaseBackend
from ibis.expr.types import Table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DEFAULT_MASTER: Final = "local[*]"
SUPPORTED_JAVA: Final = (17, 21)  # what Spark 4.0 runs on
JVM_ROOT: Final = Path("/usr/lib/jvm")  # where Debian and Ubuntu install JDKs
LOCAL_SHUFFLE_PARTITIONS: Final = 4  # Spark's 200 default costs seconds of empty tasks on one machine


def spark_session(master: str | None = None, app_name: str = "memberscore") -> SparkSession:
    """A Spark session at ``master`` (local, all cores, when None) with memberscore's settings.

    An already running session is returned as is (Spark allows one per process); its time zone
    is still forced to UTC, the rule every engine follows for naive timestamps.
    """
    ensure_java()
    from pyspark.sql import SparkSession

    master = master or DEFAULT_MASTER
    if is_local(master):  # PySpark starts local workers with $PYSPARK_PYTHON, else whatever python3 is on PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in session_conf(master).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


def session_conf(master: str) -> dict[str, str]:
    """Spark settings for ``master``.

    UTC session time: the data contract's timestamps are naive local time, and DuckDB reads them
    as such; Spark would otherwise shift them by the JVM's zone and move day boundaries. Locally
    a few shuffle partitions suit one machine's data; a cluster keeps its own settings.
    """
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if is_local(master):
        conf.update({"spark.sql.shuffle.partitions": str(LOCAL_SHUFFLE_PARTITIONS), "spark.ui.enabled": "false",
                     "spark.ui.showConsoleProgress": "false"})
    return conf


def is_local(master: str) -> bool:
    """Whether ``master`` runs Spark inside this machine (``local``, ``local[4]``, ``local[*]``)."""
    return master.startswith("local")


def spark_backend(session: SparkSession) -> BaseBackend:
    """The Ibis backend that runs feature expressions on ``session``."""
    import ibis

    return ibis.pyspark.connect(session)


def ensure_java() -> None:
    """Make a Java that Spark supports findable: JAVA_HOME, else ``java`` on PATH, else a JDK under /usr/lib/jvm.

    Raises a RuntimeError that says what to install when there is none.
    """
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    home = find_java_home(JVM_ROOT)
    if home is None:
        raise RuntimeError(f"Spark needs Java {' or '.join(map(str, SUPPORTED_JAVA))}: install one "
                           "(Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME")
    os.environ["JAVA_HOME"] = str(home)


def find_java_home(root: Path) -> Path | None:
    """The first JDK or JRE under ``root`` whose directory names a supported version and holds bin/java."""
    for version in SUPPORTED_JAVA:
        for candidate in sorted(root.glob(f"*-{version}-*")) + sorted(root.glob(f"*-{version}")):
            if (candidate / "bin" / "java").is_file():
                return candidate
    return None


def spark_frame(backend: BaseBackend, expression: Table) -> DataFrame:
    """An Ibis expression of the Spark ``backend`` as a Spark DataFrame: it stays on the executors.

    The expression's tables must be the backend's own (e.g. ``features.engine.read_parquet``), not
    pandas frames in the driver.
    """
    return backend.raw_sql(backend.compile(expression))  # type: ignore[attr-defined]  # the pyspark backend's
