"""The ``memberscore`` Typer app: every command, registered from the module of what it does."""

from __future__ import annotations

import typer

from cli.campaign import app as campaign
from cli.champions import promote, rollback
from cli.data import simulate, snapshot, validate
from cli.keys import create_key, list_keys, revoke
from cli.kpis import kpis
from cli.lists import score, targets
from cli.serve import build, serve
from cli.tiers import app as tiers
from cli.train import train

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Value loyalty members from their purchases.")
keys = typer.Typer(help="API keys with a name, role, store scope and expiry: stored as SHA-256 hashes only.", no_args_is_help=True)

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
app.add_typer(keys, name="keys")
app.add_typer(campaign, name="campaign")
app.add_typer(tiers, name="tiers")
keys.command("create")(create_key)
keys.command("list")(list_keys)
keys.command("revoke")(revoke)


if __name__ == "__main__":
    app()
