"""Operator moves of the ``champion`` alias: promote a registered version, roll back to the previous one.

The alias is the one source of truth for what serves (batch scoring and the service both follow
it), so these functions only move the alias and keep its history; the service notices at its next
poll and loads the version from its BentoML cache (importing it there first when needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from models import catalog
from training import registry

FORCED_TAG = "champion_forced"


@dataclass(frozen=True)
class Move:
    """What an operator command did to one task's champion alias."""

    task: str
    name: str
    previous: str | None
    version: str
    note: str = ""

    def line(self) -> str:
        before = f"v{self.previous}" if self.previous else "no champion"
        return f"{self.name}: champion {before} -> v{self.version}" + (f" ({self.note})" if self.note else "")


def gate_refusal(task: str, version: str, *, project: str) -> str | None:
    """Why the gate refuses ``version`` as champion, or None when it passed.

    The gate is the one training applied: the version's run must have beaten the baselines (and
    the champion of its day), as its ``decision.json`` records. A version from another project
    cannot exist under this project's name, so projects never mix.
    """
    run_id = catalog.version_run_id(task, version, project=project)
    decision = registry.run_decision(run_id)
    if not decision:
        return f"v{version} (run {run_id}) recorded no gate decision"
    if not decision.get("promoted"):
        return f"v{version} did not pass its gate: {decision.get('reason', 'no reason recorded')}"
    return None


def promote_version(task: str, version: str, *, project: str, force: bool = False, reason: str | None = None) -> Move:
    """Make ``version`` the champion of ``task`` in ``project``, through the gate unless ``force``.

    ``force`` needs a ``reason``; it is kept as a tag on the version and on its run, with the time,
    so a forced champion is never mistaken for one that won. ValueError says why a move is refused.
    """
    name = catalog.model_name(task, project=project)
    if force and not (reason and reason.strip()):
        raise ValueError("--force needs --reason TEXT: why this version serves without passing its gate")
    if not registry.version_exists(task, version, project=project):
        raise ValueError(f"{name} has no version {version}")
    current = catalog.alias_version(task, catalog.CHAMPION, project=project)
    if current == version:
        raise ValueError(f"{name} v{version} is already the champion")
    refusal = gate_refusal(task, version, project=project)
    note = ""
    if refusal is not None:
        if not force:
            raise ValueError(f"{name} {refusal}; pass --force --reason TEXT to promote it anyway")
        note = f"forced: {reason}; gate said: {refusal}"
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        registry.note_on_version(task, version, FORCED_TAG, f"{stamp} {reason} (gate: {refusal})", project=project)
    previous = registry.move_champion(task, version, project=project)
    return Move(task, name, previous, version, note)


def rollback(task: str, *, project: str) -> Move:
    """Move ``champion`` of ``task`` back to the version that was champion before it.

    The history is kept (the registered model's ``champion_history`` tag and the
    ``previous_champion`` alias), so repeated rollbacks walk further back; ValueError with one
    line when there is no earlier champion.
    """
    current, target = registry.pop_champion(task, project=project)
    return Move(task, catalog.model_name(task, project=project), current, target, "rolled back")
