"""``memberscore serve`` and ``build``: running and packaging the HTTP service."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.options import NotReady, ProjectOption, command_settings, one_line_errors
from features.project import DEFAULT_PROJECT, PROJECT_ENV

SERVICE = "serving.service:MemberScoring"


@one_line_errors
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 3000,
    insecure_no_auth: Annotated[bool, typer.Option("--insecure-no-auth", help="serve without API keys (local use only)")] = False,
    ssl_certfile: Annotated[Path | None, typer.Option(help="PEM certificate (chain): serve HTTPS only")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="PEM private key of --ssl-certfile")] = None,
    project: ProjectOption = DEFAULT_PROJECT,
) -> None:
    """Serve one project's champion models and newest snapshot over HTTP or HTTPS (BentoML), API keys required."""
    tls = tls_arguments(ssl_certfile, ssl_keyfile)  # a bad pair stops here, before any work
    from models import catalog
    from serving import auth
    from serving.artefacts import import_champions

    settings = command_settings()
    catalog.configure_tracking(settings.mlflow_tracking_uri)
    if insecure_no_auth:  # the service process reads its settings from the environment it inherits
        os.environ[auth.INSECURE_ENV] = "1"
    ring, bearer = auth.key_ring(settings), auth.bearer_check(settings)  # a bad key file or JWT setting: one line
    if not ring.hashes and bearer is None and not insecure_no_auth:
        raise NotReady(f"no API key configured: set {auth.KEYS_ENV} or {auth.KEY_FILE_ENV} "
                       "(`memberscore keys create --role admin --name NAME --file F`), or pass --insecure-no-auth for local use")
    mode = (f"{len(ring.hashes)} API key(s), header X-API-Key" + (", bearer tokens" if bearer else "")
            if ring.hashes or bearer else "NO AUTHENTICATION (--insecure-no-auth)")
    imported = import_champions(project=project)
    if "churn" not in imported:
        typer.echo(f"warning: no champion for {catalog.model_name('churn', project=project)} yet: /readyz says 503 "
                   f"until `memberscore train --project {project}` promotes one", err=True)
    os.environ[PROJECT_ENV] = project  # the service reads its project where it reads its other settings
    scheme = "https" if tls else "http"
    typer.echo(f"serving project {project} on {scheme}://{host}:{port} ({mode}); marketers' page at /ui, "
               "API at /docs.json", err=True)
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port), *tls]
    os.execv(sys.executable, command)  # the environment (project, telemetry off, keys) is inherited


def tls_arguments(certfile: Path | None, keyfile: Path | None) -> list[str]:
    """``bentoml serve``'s TLS options (uvicorn's), after checking that the pair loads.

    Both or neither: a certificate without its key, or a key that does not match, is one line and
    exit 2 now rather than a worker that dies at start. With them the port speaks HTTPS only.
    """
    if certfile is None and keyfile is None:
        return []
    if certfile is None or keyfile is None:
        raise ValueError("--ssl-certfile and --ssl-keyfile: give both (the certificate and its private key)")
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile, password=_no_password)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"--ssl-certfile {certfile} / --ssl-keyfile {keyfile}: cannot be loaded as a certificate "
                         f"and its key ({error.strerror or error})") from None
    return ["--ssl-certfile", str(certfile.resolve()), "--ssl-keyfile", str(keyfile.resolve())]


def _no_password() -> bytes:
    """An encrypted key is refused (a wrong-password error) instead of OpenSSL prompting on the terminal."""
    return b""


@one_line_errors
def build(
    bentofile: Annotated[Path, typer.Option(help="the Bento's build file")] = Path("bentofile.yaml"),
    project: ProjectOption = DEFAULT_PROJECT,
) -> None:
    """Build a Bento serving the project's current champions (then: bentoml containerize <tag>)."""
    from models import catalog
    from serving.bento import build_bento

    catalog.configure_tracking(command_settings().mlflow_tracking_uri)
    bento = build_bento(bentofile, project)
    models = ", ".join(str(model.tag) for model in bento.info.models)
    typer.echo(f"built {bento.tag} with {models}; containerize with `bentoml containerize {bento.tag}`")
