"""A campaign with a holdout from a target list: the list as ``/targets`` makes it, split into arms, stored.

The list is ``serving.targets``' ranked list (same campaign rules and filters), its best ``limit``
members; ``campaigns.assignment`` draws the control arm; ``campaigns.power`` says before anything is
sent how small an effect on spend the split can detect. The contact list is the treatment arm only.

With ``rank: "uplift"`` the same eligible members are ranked instead by the project's uplift
champion (``models.uplift``): expected incremental value of the contact, net of its cost, so the
list holds who would buy *because* of it rather than who would anyway. Without a champion that is
refused, never quietly ranked by score; the record keeps which ranking (and uplift version) made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from campaigns.assignment import assign_arms, score_deciles
from campaigns.power import campaign_mde, spend_window
from campaigns.record import ARMS, CONTROL, RANDOMISED, TREATMENT, CampaignRecord
from campaigns.store import CampaignStore, new_campaign_id
from features import contract
from features.i18n import Translator
from features.list_headers import for_readers
from features.spreadsheet import csv_text
from models.uplift import TASK as UPLIFT
from models.uplift import UpliftChampion, rank_by_incremental_value
from serving.schemas import TargetFilters, TargetsRequest
from serving.targets import target_list

if TYPE_CHECKING:
    from serving.artefacts import LoadedSnapshot

NEW_MEMBER_DAYS = 90  # is_new: first purchase within this many days before the start
SPEND_WINDOWS = (30, 90, 180, 365)  # the snapshot's spend_<D>d windows (features.behaviour)
RANKINGS = ("score", "uplift")
UPLIFT_SCORE = "expected_incremental_value"


class CampaignRequest(BaseModel):
    """A campaign with a randomised holdout: the target list's campaign and filters, its size and the split."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200, description="unique within the project")
    campaign: str = Field(..., description="winback, retain_high_value, upsell or next_purchase_reminder")
    limit: int = Field(..., ge=1, description="members on the list (both arms), best first")
    holdout_share: float = Field(0.1, gt=0, lt=1, description="share held out as control, per score decile")
    filters: TargetFilters = Field(default_factory=TargetFilters)
    window_days: int = Field(30, ge=1, le=365, description="days after the start over which the effect is measured")
    cost_per_contact: float = Field(0.0, ge=0, allow_inf_nan=False, description="cost of contacting one member")
    margin_rate: float = Field(1.0, gt=0, le=1, description="share of spend that is margin")
    rank: Literal["score", "uplift"] = Field(
        "score", description="score: the campaign's score, as /targets; uplift: expected incremental value of the "
                             "contact by the project's uplift champion (refused when there is none)")


def uplift_needed(request: CampaignRequest, uplift: UpliftChampion | None, project: str) -> UpliftChampion | None:
    """The champion when the request ranks by uplift (ValueError naming ``rank`` when there is none), else None."""
    if request.rank != "uplift":
        return None
    if uplift is None:
        raise ValueError(f"rank: 'uplift' needs an uplift champion for project {project!r}, and none has passed "
                         "its gate; rank by 'score' or train an uplift model on a randomised campaign")
    return uplift


def ranked_list(loaded: LoadedSnapshot, request: CampaignRequest, uplift: UpliftChampion | None) -> pd.DataFrame:
    """The eligible members (``/targets``' campaign rule and filters), best first: by the campaign's score,
    or with ``uplift`` by what a contact adds (which then becomes the ``score`` the arms stratify on):
    expected incremental margin net of the contact's cost for a spend model, else the incremental
    outcome itself (a visit or a purchase has no price here, so no cost is taken off it)."""
    targets = TargetsRequest(campaign=request.campaign, filters=request.filters, explain=0)
    ranked = target_list(loaded, targets).ranked
    if uplift is None or ranked.empty:
        return ranked
    rows = loaded.features_by_id.reindex(ranked[contract.MEMBER_ID])
    money = {"margin_rate": request.margin_rate, "cost_per_contact": request.cost_per_contact} if uplift.in_money else {}
    try:
        value = rank_by_incremental_value(rows, uplift.booster, **money)
    except ValueError as error:
        raise ValueError(f"rank: the uplift champion (version {uplift.version}) cannot rank this snapshot: "
                         f"{error}") from None
    order = rows.index.get_indexer(value.index)  # positions, best first (member ids are unique)
    return ranked.iloc[order].assign(score=value[UPLIFT_SCORE].to_numpy(float))


def uplift_score_name(uplift: UpliftChampion | None) -> str:
    """What the list's ``score`` is: the campaign's, or what the uplift champion says a contact adds."""
    if uplift is None:
        return "campaign score"
    return UPLIFT_SCORE if uplift.in_money else f"incremental {uplift.outcome}"


def campaign_members(loaded: LoadedSnapshot, request: CampaignRequest, campaign_id: str,
                     uplift: UpliftChampion | None = None) -> pd.DataFrame:
    """The listed members with their strata and arm (``campaigns.record.MEMBER_COLUMNS``), best first."""
    listed = ranked_list(loaded, request, uplift).head(request.limit)
    if listed.empty:
        raise ValueError(f"campaign: no member is eligible for {request.campaign!r} with these filters")
    ids = listed[contract.MEMBER_ID]
    tenure = loaded.features_by_id.reindex(ids)["tenure_days"] if "tenure_days" in loaded.features_by_id else None
    members = pd.DataFrame({
        "member_id": ids.to_numpy(object), "score": listed["score"].to_numpy(float),
        "lifecycle_stage": listed["lifecycle_stage"].to_numpy(object), "tier": listed["tier"].to_numpy(object),
        "is_new": (tenure.to_numpy(float) <= NEW_MEMBER_DAYS) if tenure is not None else pd.NA})
    members.insert(2, "score_decile", score_deciles(members["score"]))
    members.insert(1, "arm", assign_arms(campaign_id, members["member_id"], members["score_decile"],
                                         request.holdout_share))
    if not (members["arm"] == CONTROL).any():
        raise ValueError(f"holdout_share: {request.holdout_share} of {len(members):,} members leaves no control "
                         "member; list more members or hold out a larger share")
    return members.astype({"score_decile": "Int64", "is_new": "boolean"})


def create_campaign(store: CampaignStore, loaded: LoadedSnapshot, request: CampaignRequest, project: str,
                    model_versions: Mapping[str, str],
                    uplift: UpliftChampion | None = None) -> tuple[CampaignRecord, pd.DataFrame]:
    """Draw, size and store a campaign; returns the record and its members (both arms).

    ``uplift`` is the project's uplift champion (None: there is none); it ranks only when the request asks.
    """
    uplift = uplift_needed(request, uplift, project)
    campaign_id = new_campaign_id()
    members = campaign_members(loaded, request, campaign_id, uplift)
    if uplift is not None:
        model_versions = {**model_versions, UPLIFT: uplift.version}
    as_of = loaded.snapshot.as_of
    record = CampaignRecord(
        id=campaign_id, project=project, name=request.name, type=request.campaign, created=datetime.now(UTC),
        start=as_of, window_days=request.window_days, cost_per_contact=request.cost_per_contact,
        margin_rate=request.margin_rate, design=RANDOMISED, holdout_share=request.holdout_share,
        snapshot_as_of=as_of, model_versions=dict(model_versions), settings=_settings(request, uplift),
        power=_power(loaded, members, request.window_days))
    store.add(record, members)
    return record, members


def _settings(request: CampaignRequest, uplift: UpliftChampion | None) -> dict[str, Any]:
    """What made the list; excluded ids are counted, not stored (they are member ids)."""
    filters = request.filters.model_dump(exclude={"exclude_member_ids"})
    return {"campaign": request.campaign, "limit": request.limit, "filters": filters,
            "excluded_members": len(request.filters.exclude_member_ids), "rank": request.rank,
            "score": uplift_score_name(uplift)}


def _power(loaded: LoadedSnapshot, members: pd.DataFrame, window_days: int) -> dict[str, Any]:
    """The MDE from the listed members' spend in the snapshot's window of the campaign's length."""
    days, scale = spend_window(window_days, SPEND_WINDOWS)
    column = f"spend_{days}d"
    features = loaded.features_by_id
    past = features.reindex(members["member_id"])[column].to_numpy(float) if column in features else np.array([])
    arms = arm_counts(members)
    source = f"{column} (net spend in the {days} days before the start)"
    return campaign_mde(past, arms[TREATMENT], arms[CONTROL], source, scale).as_dict()


def arm_counts(members: pd.DataFrame) -> dict[str, int]:
    """Members per arm, treatment first."""
    return {arm: int((members["arm"] == arm).sum()) for arm in ARMS}


def contact_list(members: pd.DataFrame) -> pd.DataFrame:
    """The members to contact: the treatment arm, without the arm column (control is never exported)."""
    return members[members["arm"] == TREATMENT].drop(columns="arm").reset_index(drop=True)


def contact_csv(members: pd.DataFrame, headers: Translator | None = None) -> str:
    """The contact list as spreadsheet-safe CSV (``features.spreadsheet``), UTF-8 with a byte-order mark;
    with ``headers`` for readers of that language (``features.list_headers``)."""
    return csv_text(for_readers(contact_list(members), headers), bom=True)


def campaign_answer(record: CampaignRecord, arms: Mapping[str, int], members: pd.DataFrame | None) -> dict[str, Any]:
    """A campaign as JSON: the record, members per arm, the MDE and (when given) the contact list."""
    answer: dict[str, Any] = {"campaign": record.summary(), "arms": dict(arms),
                              "minimum_detectable_effect": record.power}
    if members is not None:
        listed = contact_list(members).astype(object)
        answer["contact_list"] = listed.where(listed.notna(), None).to_dict(orient="records")
    return answer
