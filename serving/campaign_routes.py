"""HTTP routes of campaigns with a holdout: ``POST /campaigns``, ``GET /campaigns``, ``GET /campaigns/{id}``
and ``GET /campaigns/{id}/effect``.

Included in the service's FastAPI app (``serving.service``), so they sit behind its API-key
middleware and answer refusals in its one error shape. The service opens the store at start
(``attach``) and the routes find it, with what serves, in ``app.state``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import Response
from pydantic import SecretStr

from campaigns.record import TREATMENT
from campaigns.store import CampaignNotFound, CampaignStore
from features.i18n import Translator
from features.value_names import CAMPAIGN, describe, label
from models import uplift
from serving.audit import note
from serving.caller import caller_of
from serving.campaign_lists import CampaignRequest, arm_counts, campaign_answer, contact_csv, create_campaign
from serving.contract import PROTECTED
from serving.errors import data_key_refusals
from serving.language import ENGLISH_READER, RequestLanguage
from serving.live import Served
from serving.scope import pseudonyms_for, scoped, shown_members
from serving.targets import CAMPAIGNS, Campaign

router = APIRouter()
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}, "description": "JSON, or the contact list as CSV with ?format=csv"}}


class ServesNow(Protocol):
    """What serves now (``serving.live.LiveState``)."""

    def current(self) -> Served: ...


UpliftSource = Callable[[], "uplift.UpliftChampion | None"]


@dataclass(frozen=True)
class CampaignService:
    """What the routes need: the store, what serves, the project, and where its uplift champion is found
    (read only when a request ranks by uplift, so a campaign by score never waits on the registry)."""

    store: CampaignStore
    live: ServesNow
    project: str
    uplift: UpliftSource
    pseudonym_secret: SecretStr | None = None  # for keys without raw member ids (serving.scope)


def attach(app: FastAPI, store: CampaignStore, live: ServesNow, project: str,
           uplift_champion: UpliftSource | None = None, pseudonym_secret: SecretStr | None = None) -> None:
    """Give the routes their store and state (called once by the service at start); the uplift
    champion is the registry's (``models.uplift.champion``) unless given."""
    source = uplift_champion or functools.partial(uplift.champion, project)
    app.state.campaigns = CampaignService(store, live, project, source, pseudonym_secret)


def _service(request: Request) -> CampaignService:
    service: CampaignService | None = getattr(request.app.state, "campaigns", None)
    if service is None:
        raise HTTPException(status_code=503, detail="not ready: the campaign store is not open")
    return service


def _format(format: str) -> str:
    if format not in ("json", "csv"):
        raise HTTPException(status_code=422, detail=f"format: expected 'json' or 'csv', got {format!r}")
    return format


@router.post("/campaigns", dependencies=PROTECTED["dependencies"],
             responses={**PROTECTED["responses"], **CSV_RESPONSE})
def create(body: CampaignRequest, request: Request, format: str = "json") -> Any:
    """Create a campaign from a target list with a randomised holdout, stratified by score decile.

    The answer holds the campaign (id, settings), members per arm, the minimum detectable effect on
    spend per member (80% power, two-sided alpha 0.05) and the contact list (treatment arm only);
    ``?format=csv`` answers the contact list alone as CSV. ``"rank": "uplift"`` ranks the eligible
    members by the project's uplift champion (expected incremental value net of the contact's cost);
    without one the answer is a 422 naming ``rank``. A store-scoped key's campaign lists its stores'
    members only; a key without raw ids gets the contact list pseudonymised (the store keeps the ids).
    """
    chosen = _format(format)
    service = _service(request)
    served = service.live.current()
    if not served.ready or served.snapshot is None:
        raise HTTPException(status_code=503, detail="not ready: " + "; ".join(served.not_ready_reasons()))
    caller = caller_of(request.scope)
    key = pseudonyms_for(caller, False, service.pseudonym_secret)  # refused before anything is stored
    try:
        champion = service.uplift() if body.rank == "uplift" else None
        with data_key_refusals():
            record, members = create_campaign(service.store, scoped(served.snapshot, caller), body, service.project,
                                              served.versions(), champion)
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    note(campaign_id=record.id, list_name=record.type, rows=int((members["arm"] == TREATMENT).sum()))
    members = shown_members(members, served.snapshot, caller, key)
    if chosen == "csv":
        return Response(contact_csv(members), media_type="text/csv", headers={"X-Campaign-Id": record.id})
    return campaign_answer(record, arm_counts(members), members)


@router.get("/campaigns", **PROTECTED)
def listed(request: Request, asked: RequestLanguage = ENGLISH_READER) -> dict[str, Any]:
    """The campaign types /targets knows (``campaigns``: code, name and description in the request's
    language), and the project's stored campaigns, newest first."""
    service = _service(request)
    records = [campaign_answer(r, service.store.arm_counts(r.project, r.id), None)
               for r in service.store.list(service.project)]
    return {"campaigns": [campaign_type(c, Translator(asked.language)) for c in CAMPAIGNS.values()],
            "records": records}


def campaign_type(campaign: Campaign, translator: Translator) -> dict[str, Any]:
    """One campaign type for a reader: its code, its name and what it selects, in their language."""
    return {"name": campaign.name, "label": label(CAMPAIGN, campaign.name, translator),
            "description": describe(campaign.description, translator)}


@router.get("/campaigns/{campaign_id}", dependencies=PROTECTED["dependencies"],
            responses={**PROTECTED["responses"], **CSV_RESPONSE, 404: {"description": "no such campaign"}})
def shown(campaign_id: str, request: Request, format: str = "json") -> Any:
    """A stored campaign: settings, members per arm, the MDE; ``?format=csv``: its contact list (treatment arm)."""
    chosen = _format(format)
    service = _service(request)
    try:
        record = service.store.get(service.project, campaign_id)
        note(campaign_id=record.id, list_name=record.type)
        if chosen == "csv":
            with data_key_refusals():
                contacts = _shown_contacts(service, request, campaign_id)
            note(rows=len(contacts))
            return Response(contact_csv(contacts), media_type="text/csv")
        return campaign_answer(record, service.store.arm_counts(service.project, campaign_id), None)
    except CampaignNotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


def _shown_contacts(service: CampaignService, request: Request, campaign_id: str) -> Any:
    """A stored contact list as the caller may see it (its stores' members, pseudonymised without raw ids)."""
    caller = caller_of(request.scope)
    key = pseudonyms_for(caller, False, service.pseudonym_secret)
    members = service.store.members(service.project, campaign_id, TREATMENT)
    if caller is None or (not caller.stores and key is None):
        return members
    served = service.live.current()
    if served.snapshot is None:
        raise HTTPException(status_code=503, detail="not ready: " + "; ".join(served.not_ready_reasons()))
    return shown_members(members, served.snapshot, caller, key)


@router.get("/campaigns/{campaign_id}/effect", dependencies=PROTECTED["dependencies"],
            responses={**PROTECTED["responses"], 404: {"description": "no such campaign, or not measured yet"}})
def measured_effect(campaign_id: str, request: Request) -> dict[str, Any]:
    """The campaign's latest measured effect (``memberscore campaign effect`` measures it from the transactions:
    the service holds snapshots, not purchase histories), with when it was measured."""
    service = _service(request)
    try:
        found = service.store.latest_effect(service.project, campaign_id)
    except CampaignNotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    note(campaign_id=campaign_id)  # the store knows it (else CampaignNotFound above)
    if found is None:
        raise HTTPException(status_code=404, detail=f"campaign {campaign_id!r} has not been measured yet: run "
                                                    f"`memberscore campaign effect --id {campaign_id} --transactions T`")
    return found
