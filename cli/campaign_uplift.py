"""``memberscore campaign uplift``: learn who responds from one of the project's randomised campaigns.

Registered on ``cli.campaign``'s app (that module holds the other campaign commands). The model is
logged and registered as task ``uplift`` of the project; it becomes the champion that
``campaign create --rank uplift`` ranks by only if its gate passes (``training.uplift_gate``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, cast

import typer

from cli.options import (
    MappingOption,
    Progress,
    ProjectOption,
    RejectsOption,
    TransactionsOption,
    command_data_key,
    command_settings,
)
from features.project import DEFAULT_PROJECT


def uplift(
    id: Annotated[str, typer.Option("--id", help="a randomised campaign's id (memberscore campaign list)")],
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    rejects: RejectsOption = None,
    outcome: Annotated[str, typer.Option(help="spend: net spend in the window; bought: any purchase in it")] = "spend",
    test_share: Annotated[float, typer.Option(help="share of members held out to judge the model, in (0, 1)")] = 0.3,
    db: Annotated[str | None, typer.Option("--db", envvar="MEMBERSCORE_CAMPAIGN_DB", show_envvar=True,
                                           help="campaign database URL (as `campaign create`)")] = None,
    project: ProjectOption = DEFAULT_PROJECT,
) -> None:
    """Train an uplift model on a randomised campaign's members (snapshot features as of its start, the
    outcome in its window); register it, champion only through its gate. Prints the decision and each
    ranking's Qini and uplift at 10% / 30% on held-out members, with intervals, as JSON."""
    from campaigns.store import CampaignNotFound, opened
    from cli.campaign import database
    from cli.data import load_for_command
    from models import catalog
    from training.uplift_campaign import Outcome, train_from_campaign

    if outcome not in ("spend", "bought"):
        raise ValueError(f"--outcome: expected 'spend' or 'bought', got {outcome!r}")
    if not 0 < test_share < 1:
        raise ValueError(f"--test-share: expected a share in (0, 1), got {test_share}")
    with opened(database(db), command_data_key()) as store:
        try:
            record, members = store.get(project, id), store.members(project, id)
        except CampaignNotFound as error:
            raise ValueError(f"--{error}") from None
    frame, _ = load_for_command(transactions, mapping, rejects, Progress())
    catalog.configure_tracking(command_settings().mlflow_tracking_uri)
    result = train_from_campaign(record, members, frame, outcome=cast(Outcome, outcome), test_share=test_share)
    typer.echo(json.dumps(_answer(result, record.id), indent=2))


def _answer(result: Any, campaign_id: str) -> dict[str, Any]:
    """What was trained and judged: version, promoted or not and why, each ranking's held-out metrics."""
    return {"campaign_id": campaign_id, "version": result.version, "promoted": result.decision.promote,
            "decision": result.decision.reason, "held_out_members": result.held_out,
            "rankings": result.rankings, "comparisons": result.comparisons}
