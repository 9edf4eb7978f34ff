"""How every benchmark case is measured: its own process, wall time from inside, peak RSS from outside.

A case is ``python -m bench.<module> ...`` printing one JSON object as its last stdout line (the
seconds of the timed region, and whatever counts it knows). Its peak resident memory comes from
``os.wait4``, the kernel's maximum RSS of exactly that child, so imports and start-up count toward
memory (they are real) but not toward time.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("duckdb", "ibis-framework", "pandas", "pyarrow", "numpy", "xgboost", "bentoml", "mlflow", "aiohttp")


def run_case(module: str, args: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m bench.<module> args`` once; its JSON result plus ``peak_rss_mb``."""
    stdout, peak_rss_mb, _ = run_command([sys.executable, "-m", f"bench.{module}", *args], env)
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak_rss_mb
    return result


# A tiny launcher between us and the measured command. Linux carries the RSS high-water mark of
# the forking process into a forked-then-exec'd child, so a child forked straight from this
# (large) process would report at least our size. The launcher is ~10 MB, so the floor is that.
_LAUNCHER = """
import os, sys
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_command(command: Sequence[str], env: dict[str, str] | None = None,
                cwd: Path = REPO) -> tuple[str, float, float]:
    """Run ``command`` to the end: (stdout, its peak RSS in MB, wall seconds). Fails loudly with its stderr."""
    with tempfile.TemporaryFile(mode="w+") as errors, tempfile.NamedTemporaryFile(mode="r") as rss:
        started = time.perf_counter()
        finished = subprocess.run([sys.executable, "-c", _LAUNCHER, rss.name, *command], cwd=cwd, env=env,
                                  stdout=subprocess.PIPE, stderr=errors, text=True, check=False)
        seconds = time.perf_counter() - started
        if finished.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed ({finished.returncode}):\n{errors.read()[-3000:]}")
        peak_kib = int(rss.read())  # Linux reports KiB
    return finished.stdout, peak_kib / 1024.0, seconds


def repeat_case(module: str, args: Sequence[str], runs: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``runs`` fresh processes of one case: the median of every numeric field, and the raw runs."""
    results = [run_case(module, args, env) for _ in range(runs)]
    return {**median_of(results), "runs": results}


def median_of(results: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Field-wise median over runs (numeric fields only)."""
    keys = [k for k, v in results[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {key: statistics.median(float(r[key]) for r in results) for key in keys}


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare numbers across machines."""
    return {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "memory_gb": round(_memory_kib() / 1024 / 1024, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version(),
        "platform": platform.platform(), "versions": {name: _version(name) for name in PACKAGES},
    }


def code_version(repo: Path = REPO) -> str:
    """The commit the figures were measured on, with ``+changes`` when the work tree's code differed from it.

    Sections may be re-run one at a time (``--sections``), so each records its own code version.
    """
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    # the benches' own outputs and the docs they rewrite are not code
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!*.md", ":!bench/*.json", ":!bench/*.png")
    return f"{commit}+changes" if changed else commit


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def stop_process_group(process: subprocess.Popen[bytes], grace_seconds: float = 20.0) -> None:
    """Terminate a server started in its own session and its whole process group (BentoML forks
    workers): SIGTERM, then SIGKILL after ``grace_seconds``. Used by the benchmarks and the tests."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def wait_until_answering(process: subprocess.Popen[bytes], base: str, log_path: Path, timeout_s: float,
                         status: int = 200, poll_s: float = 0.3, verify: ssl.SSLContext | bool = True) -> None:
    """Wait until ``base``/readyz answers ``status`` (200 ready, 503 up but not ready); ``verify``:
    the CA of an https ``base`` (httpx's argument).

    A server that exits, or does not answer in ``timeout_s``, is stopped and raises with its
    log's tail. Used by the benchmarks, the README example and the tests' servers alike.
    """
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=5, verify=verify).status_code == status:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_process_group(process)
            raise RuntimeError(f"server not answering {status} after {timeout_s:.0f} s:\n"
                               f"{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(poll_s)
