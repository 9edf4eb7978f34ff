"""What a caller may see of the served members: a store-scoped key only the members whose home
store (the store of their first purchase, ``features.kpi_periods.home_stores``) is in its scope;
a key without raw ids (a marketer's, by default) keyed pseudonyms instead of member ids.

A member outside the scope is answered as an unknown id (``/score``) or left out (lists), never
hinted at. A scoped key on a snapshot without stores is refused (403): no scope can be applied
there, and the whole membership is not the answer to "the members of store S". The refusals are
HTTP errors, so every route answers them in the API's one error shape.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
from fastapi import HTTPException
from pydantic import SecretStr

from features import contract
from features.snapshot import HOME_STORE, Snapshot
from serving.artefacts import LoadedSnapshot
from serving.caller import Caller
from serving.pseudonym import KEY_ENV, pseudonym, pseudonym_key


class ScopeUnavailable(HTTPException):
    """A store-scoped key, and a snapshot that does not know its members' stores: 403."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=403, detail=detail)


class PseudonymsUnavailable(HTTPException):
    """A key without raw ids, and a service without a pseudonym key: 503, never raw ids instead."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=503, detail=f"not ready: {detail}")


def home_stores_by_id(snapshot: Snapshot) -> pd.Series | None:
    """Member id -> home store, built once when a snapshot is loaded (None when it has no stores)."""
    profile = snapshot.profile
    if HOME_STORE not in profile.columns:
        return None
    return pd.Series(profile[HOME_STORE].astype(str).to_numpy(), index=profile[contract.MEMBER_ID].astype(str))


def scoped_kpis(table: pd.DataFrame, by: str | None, caller: Caller | None) -> pd.DataFrame:
    """The KPI rows a caller may see: a store-scoped key only its stores' rows, and only ``by=store``.

    Chain totals and the tier or lifecycle-stage splits are made from every store's members and
    cannot be cut to a scope after the fact (they are stored whole beside the snapshot), so a
    scoped key is refused them (403) rather than shown other stores' members in aggregate, as its
    segment counts are the scope's only. A chain manager's key has no scope.
    """
    if caller is None or not caller.stores:
        return table
    if by != contract.STORE:
        split = f"by {by}" if by else "chain totals"
        raise ScopeUnavailable(f"key {caller.name!r} sees only the members of stores {', '.join(caller.stores)}: "
                               f"KPIs over the whole chain ({split}) are outside its scope; ask with by=store")
    if table.empty:
        return table
    return table[table[contract.STORE].astype(str).isin(caller.stores)].reset_index(drop=True)


def _homes(loaded: LoadedSnapshot, caller: Caller) -> pd.Series:
    if loaded.home_stores is None:
        raise ScopeUnavailable(f"key {caller.name!r} sees only the members of stores {', '.join(caller.stores)}, "
                               "and the served snapshot has no stores (its transactions have no store column)")
    return loaded.home_stores


def visible(loaded: LoadedSnapshot, caller: Caller | None, member_ids: list[str]) -> set[str] | None:
    """Which of ``member_ids`` the caller may see (None: all of them, the key has no store scope)."""
    if caller is None or not caller.stores:
        return None
    homes = _homes(loaded, caller)
    asked = pd.Index(member_ids)
    known = asked[asked.isin(homes.index)]
    return set(known[homes.reindex(known).isin(caller.stores).to_numpy()])


def scoped(loaded: LoadedSnapshot, caller: Caller | None) -> LoadedSnapshot:
    """The snapshot as the caller may see it: only its stores' members (itself for an unscoped key).

    Lists and campaigns are ranked from this view, so a scoped list is ranked among the scope's
    members, and its cursors are its own (a list's identity is its ranked members).
    """
    if caller is None or not caller.stores:
        return loaded
    homes = _homes(loaded, caller)
    scores, features = loaded.scores_by_id, loaded.features_by_id
    return dataclasses.replace(loaded, scores_by_id=scores[homes.reindex(scores.index).isin(caller.stores).to_numpy()],
                               features_by_id=features[homes.reindex(features.index).isin(caller.stores).to_numpy()],
                               members=None, home_stores=homes[homes.isin(caller.stores)])


def shown_members(members: pd.DataFrame, loaded: LoadedSnapshot, caller: Caller | None,
                  key: bytes | None) -> pd.DataFrame:
    """A stored campaign's members as the caller may see them: its stores' only, pseudonymised under ``key``."""
    seen = visible(loaded, caller, members[contract.MEMBER_ID].astype(str).tolist())
    shown = members if seen is None else members[members[contract.MEMBER_ID].astype(str).isin(seen)]
    if key is None:
        return shown
    renamed = shown.copy()
    renamed[contract.MEMBER_ID] = [pseudonym(str(member_id), key) for member_id in shown[contract.MEMBER_ID]]
    return renamed


def pseudonyms_for(caller: Caller | None, asked: bool, secret: SecretStr | None) -> bytes | None:
    """The pseudonym key when the caller asked (``?pseudonymise=true``) or its key has no raw ids,
    else None. Asked without a key configured: a 422 naming the variable; a key without raw ids
    and none configured: ``PseudonymsUnavailable``."""
    if asked:
        try:
            return pseudonym_key(secret)
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
    if caller is None or caller.raw_ids:
        return None
    if secret is None:
        raise PseudonymsUnavailable(f"key {caller.name!r} gets pseudonymised member ids, and "
                                    f"{KEY_ENV} is not set on the service")
    return pseudonym_key(secret)
