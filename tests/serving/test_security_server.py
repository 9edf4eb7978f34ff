"""Item 4 of issue 18 on real servers: HTTPS through ``memberscore serve --ssl-certfile/--ssl-keyfile``
with a certificate made here, usage tracking and telemetry off in every process it starts, and
request paths that cannot forge a line of the access log.
"""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Iterator

import httpx
import psutil
import pytest
from typer.testing import CliRunner

from bench.measure import free_port, stop_process_group, wait_until_answering
from cli.main import app
from features.project import PROJECT_ENV
from features.settings import QUIET_ENVIRONMENT
from tests.serving.certificates import Certificates, make_certificates
from tests.serving.conftest import API_KEY, HOST, READY_TIMEOUT_S, REPO, RunningServer, trained_env

pytestmark = [pytest.mark.slow, pytest.mark.integration]

# names a user could have set to switch tracking off themselves: unset, so the product must do it
TRACKING_SWITCHES = (*QUIET_ENVIRONMENT, "DO_NOT_TRACK", "MEMBERSCORE_TELEMETRY")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(trained: object, certificates: Certificates, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[RunningServer, ssl.SSLContext]]:
    """``memberscore serve --ssl-certfile --ssl-keyfile`` as a user runs it, in an environment without
    any tracking switch: the command runs here up to its ``exec``, then that exact command line and
    environment are started (saves a second interpreter's imports); ready once /readyz answers over
    HTTPS with the test CA."""
    port, launched = free_port(HOST), {}

    def record_exec(path: str, args: list[str]) -> None:
        launched.update(args=list(args), env=dict(os.environ))

    with pytest.MonkeyPatch.context() as patch:
        for name in (*TRACKING_SWITCHES, PROJECT_ENV):  # set then removed: put back as they were afterwards
            patch.setenv(name, "-")
            patch.delenv(name)
        for name, value in {**trained_env(trained), "PYTHONPATH": str(REPO)}.items():
            patch.setenv(name, value)
        patch.setattr(os, "execv", record_exec)
        result = CliRunner().invoke(app, ["serve", "--host", HOST, "--port", str(port), "--ssl-certfile",
                                          str(certificates.cert), "--ssl-keyfile", str(certificates.key)])
    assert result.exit_code == 0 and f"on https://{HOST}:{port}" in result.stderr, result.stderr
    log_path = tmp_path_factory.mktemp("tls_server") / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(launched["args"], cwd=REPO, env=launched["env"], stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    trust = ssl.create_default_context(cafile=str(certificates.ca))
    server = RunningServer(f"https://{HOST}:{port}", process, log_path)
    wait_until_answering(process, server.base, log_path, READY_TIMEOUT_S, verify=trust)
    try:
        yield server, trust
    finally:
        stop_process_group(process, grace_seconds=1)  # nothing to keep: no need to wait for a graceful stop


def test_serve_with_a_certificate_answers_https_only(tls_server: tuple[RunningServer, ssl.SSLContext]) -> None:
    server, trust = tls_server
    answer = httpx.get(f"{server.base}/healthz", verify=trust, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"status": "alive"}
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):  # it is the certificate made here
        httpx.get(f"{server.base}/healthz", timeout=10)
    with pytest.raises(httpx.TransportError):  # the same port refuses plain HTTP
        httpx.get(server.base.replace("https://", "http://") + "/healthz", timeout=10)


def test_the_cli_and_every_server_process_run_with_tracking_off(tls_server: tuple[RunningServer, ssl.SSLContext]) -> None:
    """The CLI set the switches before it exec'd ``bentoml serve``; the server and its workers have them."""
    server, _ = tls_server
    main = psutil.Process(server.process.pid)
    processes = [main, *main.children(recursive=True)]
    assert len(processes) >= 2 and any("_bentoml_impl.worker" in " ".join(p.cmdline()) for p in processes)
    for process in processes:
        environment = process.environ()
        assert {name: environment.get(name) for name in QUIET_ENVIRONMENT} == QUIET_ENVIRONMENT, process.cmdline()


FORGED = "127.0.0.1:1 (scheme=http,method=POST,path=/admin/reload) (status=200)"


@pytest.mark.parametrize("key", [None, API_KEY], ids=["no key", "with key"])
def test_a_path_cannot_forge_an_access_log_line(running_server: RunningServer, key: str | None) -> None:
    """``%0A`` (a newline) and ``%1B`` (terminal escapes) in a path: escaped in the log, one line per request."""
    marker = f"forge-{'key' if key else 'anon'}"
    path = f"/{marker}%0A{FORGED.replace(' ', '%20')}%0D%1B[2K%1B[1A"
    headers = {"X-API-Key": key} if key else {}
    answer = httpx.get(running_server.base + path, headers=headers, timeout=30)
    assert answer.status_code == (404 if key else 401)
    log = running_server.log(waiting_for=marker, timeout_s=10.0)
    lines = [line for line in log.splitlines() if marker in line]
    assert len(lines) == 1, lines  # the request's own line...
    assert f"path=/{marker}\\x0a{FORGED}\\x0d\\x1b[2K\\x1b[1A," in lines[0], lines[0]
    assert all(line.startswith("20") for line in log.splitlines() if FORGED in line)  # ...and no forged one
    assert "\x1b" not in log and "\r" not in log
