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
    project: ProjectOption = DEFAULT_PROJECT,
) -> None:
    """Serve one project's champion models and newest snapshot over HTTP (BentoML), API keys required."""
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
    typer.echo(f"serving project {project} on http://{host}:{port} ({mode}); marketers' page at /ui, "
               "API at /docs.json", err=True)
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]
    os.execv(sys.executable, command)


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
