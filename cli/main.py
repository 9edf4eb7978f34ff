"""The ``memberscore`` Typer app: every command, registered from the module of what it does."""

from __future__ import annotations

import typer

from cli.audit import audit
from cli.backtest import backtest
from cli.campaign import app as campaign
from cli.champions import promote, rollback
from cli.data import simulate, snapshot, validate
from cli.data_key import app as data_key
from cli.data_key import rekey
from cli.keys import create_key, list_keys, revoke
from cli.kpis import kpis
from cli.lists import score, targets
from cli.options import one_line_errors
from cli.refresh import refresh
from cli.serve import build, serve
from cli.tiers import app as tiers
from cli.train import train

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Value loyalty members from their purchases.")
keys = typer.Typer(help="API keys with a name, role, store scope and expiry: stored as SHA-256 hashes only.", no_args_is_help=True)


@app.callback()
@one_line_errors
def before_every_command() -> None:
    """Value loyalty members from their purchases.

    Everything a command creates is its owner's alone (files 0600, folders 0700; ``features.owner_only``),
    and before any command imports MLflow or starts a server, BentoML's usage tracking and MLflow's
    telemetry are off unless MEMBERSCORE_TELEMETRY=true (``memberscore serve`` passes it to the service).
    """
    from features.engine import limit_duckdb_memory
    from features.owner_only import owner_only
    from features.settings import keep_quiet, load_settings

    owner_only()
    settings = load_settings()
    keep_quiet(settings)
    limit_duckdb_memory(settings.duckdb_memory_limit)


app.command()(train)
app.command()(snapshot)
app.command()(score)
app.command()(simulate)
app.command()(validate)
app.command()(serve)
app.command()(build)
app.command()(targets)
app.command()(promote)
app.command()(kpis)
app.command()(rollback)
app.command()(audit)
app.command()(rekey)
app.command()(backtest)
app.command()(refresh)
app.add_typer(keys, name="keys")
app.add_typer(campaign, name="campaign")
app.add_typer(tiers, name="tiers")
app.add_typer(data_key, name="data-key")
keys.command("create")(create_key)
keys.command("list")(list_keys)
keys.command("revoke")(revoke)


if __name__ == "__main__":
    app()
