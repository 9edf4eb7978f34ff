"""Per-member tier columns as of a date, and whether each member will keep their card (保级).

Columns (codes in data; display names come from the message catalogue, context "tier"):

- ``tier``, ``tier_previous`` (held on the last day of the previous period, before its end's
  assessment; a member who joined since holds the entry card), ``tier_change`` (up / down / same);
- ``tier_period_spend``: qualifying spend in the current period so far;
- ``spend_to_next_tier`` and ``next_tier_progress``: what the period's cumulative spend still needs,
  and the share of the next card's threshold reached (empty on the top card and AA);
- ``tier_expires``: the last day the card is held without reassessment (empty for the entry card);
- ``tier_retain_threshold``, ``projected_period_spend``, ``retention_progress``, ``downgrade_risk``:
  the spend the card's assessment asks for, the spend projected for the period assessed at the
  current pace, their ratio (capped at 1) and whether the projection falls short;
  ``projected_period_spend_low`` / ``_high``: its 80% interval. The spend still to come is taken as
  compound Poisson (purchase days at the projected rate, each day's spend drawn like the member's
  own qualifying days over the pace window), so its variance is mean x E[day spend^2] / E[day spend],
  and the interval is the normal one, floored at the spend so far. It leaves out the uncertainty
  of the rate itself, so it is narrower than the truth for members with few purchase days; without
  a purchase day in the window it is empty;
  ``downgrade_risk_basis`` says where the pace came from: ``value_model`` (the member's expected
  daily spend from the value model, given by the caller; a snapshot names its source) or ``pace``
  (their qualifying spend over the last period's length of days).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

import numpy as np
import pandas as pd

from features import contract
from features.snapshot import Snapshot
from features.tier_programme import TierProgramme
from features.tier_replay import TierState, replay
from features.tier_spend import DAY, SPEND, QualifyingDays, period_start, qualifying_days

TIER_COLUMNS: Final = (
    "tier", "tier_previous", "tier_change", "tier_period_spend", "spend_to_next_tier", "next_tier_progress",
    "tier_expires", "tier_retain_threshold", "projected_period_spend", "projected_period_spend_low",
    "projected_period_spend_high", "retention_progress", "downgrade_risk", "downgrade_risk_basis",
)
CHANGES: Final = ("up", "down", "same")
INTERVAL_Z: Final = 1.2815515655446004  # the 80% two-sided normal interval of the projection


def tiers_as_of(transactions: pd.DataFrame, programme: TierProgramme, as_of: date,
                expected_daily_spend: pd.Series | None = None, expected_source: str = "value_model") -> pd.DataFrame:
    """``member_id`` and ``TIER_COLUMNS`` for every member with a line before ``as_of``, sorted by id.

    Uses rows with ts < as_of only. ``expected_daily_spend`` (by member id) is the value model's
    prediction (``expected_source`` names it in ``downgrade_risk_basis``); members without one are
    projected at their own pace.
    """
    history = transactions[transactions[contract.TS] < pd.Timestamp(as_of)]
    qualifying = qualifying_days(history, programme)
    (state,) = replay(qualifying, programme, [as_of])
    return tier_frame(state, qualifying, programme, expected_daily_spend, expected_source)


def with_programme_tiers(snapshot: Snapshot, transactions: pd.DataFrame, programme: TierProgramme,
                         expected_daily_spend: pd.Series | None = None, expected_source: str = "value_model") -> Snapshot:
    """``snapshot`` with its profile's quantile ``tier`` replaced by the programme's ``TIER_COLUMNS``.

    Uses rows with ts < snapshot.as_of only. Every snapshot member has a line before as_of, so each
    gets a row; the replay's order is by id, as the snapshot's.
    """
    tiers = tiers_as_of(transactions, programme, snapshot.as_of, expected_daily_spend, expected_source)
    profile = snapshot.profile.drop(columns=[c for c in TIER_COLUMNS if c in snapshot.profile.columns])
    profile = profile.merge(tiers, on=contract.MEMBER_ID, how="left", validate="one_to_one")
    return Snapshot(frame=snapshot.frame, as_of=snapshot.as_of, fingerprint=snapshot.fingerprint,
                    profile=profile, shares=snapshot.shares)


def tier_frame(state: TierState, qualifying: QualifyingDays, programme: TierProgramme,
               expected_daily_spend: pd.Series | None = None, expected_source: str = "value_model") -> pd.DataFrame:
    """The columns of one replayed state, for its present members."""
    codes = np.array(programme.codes, dtype=object)
    frame = pd.DataFrame({contract.MEMBER_ID: state.members.astype(str),
                          "tier": codes[state.tier], "tier_previous": codes[state.previous]})
    frame["tier_change"] = np.select([state.tier > state.previous, state.tier < state.previous], CHANGES[:2], "same")
    frame["tier_period_spend"] = state.period_spend
    keeping = _keeping(state, qualifying, programme, expected_daily_spend, expected_source)
    frame = pd.concat([frame, _next_card(state, programme), keeping], axis=1)
    present = frame[state.present].reset_index(drop=True)
    return present.astype({contract.MEMBER_ID: "string", "tier": "string", "tier_previous": "string", "tier_change": "string",
                           "tier_expires": "string", "downgrade_risk": "boolean", "downgrade_risk_basis": "string"})


def _next_card(state: TierState, programme: TierProgramme) -> pd.DataFrame:
    """Spend still needed for the next card in this period, and the share of its threshold reached."""
    bars = np.array([np.nan, *(card.cumulative for card in programme.cards[1:]), np.nan], dtype=float)
    top = len(programme.cards) - 1
    following = np.where(state.tier >= top, len(bars) - 1, state.card + 1)
    needed = bars[following]
    return pd.DataFrame({"spend_to_next_tier": np.maximum(needed - state.period_spend, 0.0),
                         "next_tier_progress": np.clip(state.period_spend / needed, 0.0, 1.0)})


def _keeping(state: TierState, qualifying: QualifyingDays, programme: TierProgramme,
             expected_daily_spend: pd.Series | None, expected_source: str) -> pd.DataFrame:
    """The assessment each member faces next, and whether their pace carries them through it."""
    supreme = state.tier == len(programme.cards)
    assessed = np.where(supreme, state.period, state.expiry)  # the period whose spend is judged
    retain = np.array([np.nan, *(card.retain for card in programme.cards[1:])], dtype=float)
    threshold = np.where(supreme, programme.supreme.exit_below if programme.supreme else np.nan, retain[state.card])
    starts = _dates(assessed, programme)
    ends = _dates(assessed + 1, programme)
    rate, basis, dispersion = _daily_rate(state, qualifying, programme, expected_daily_spend, expected_source)
    as_of = np.datetime64(state.as_of, "D")
    from_day = np.maximum(starts, as_of)
    remaining = np.maximum((ends - from_day).astype("timedelta64[D]").astype(float), 0.0)
    so_far = np.where(assessed == state.period, state.period_spend, 0.0)
    coming = np.where(np.isnan(threshold), np.nan, rate * remaining)
    projected = so_far + coming
    spread = INTERVAL_Z * np.sqrt(coming * dispersion)
    held = state.tier > 0
    expires = pd.Series(ends - np.timedelta64(1, "D")).dt.strftime("%Y-%m-%d").where(held)
    return pd.DataFrame({
        "tier_expires": expires, "tier_retain_threshold": threshold, "projected_period_spend": projected,
        "projected_period_spend_low": so_far + np.maximum(coming - spread, 0.0),
        "projected_period_spend_high": projected + spread,
        "retention_progress": np.clip(projected / threshold, 0.0, 1.0),
        "downgrade_risk": pd.Series(projected < threshold).where(held),
        "downgrade_risk_basis": pd.Series(basis).where(held)})


def _dates(periods: np.ndarray, programme: TierProgramme) -> np.ndarray:
    """First day of each period, as day-precision datetimes (a negative period: a far date, never used)."""
    cache = {int(k): np.datetime64(period_start(int(k), programme.period), "D") for k in np.unique(periods) if k > 0}
    return np.array([cache.get(int(k), np.datetime64("1970-01-01")) for k in periods], dtype="datetime64[D]")


def pace_window_days(programme: TierProgramme) -> int:
    """The trailing window of the pace: one period's length in days."""
    return round(programme.period.months * 365.25 / 12)


def _daily_rate(state: TierState, qualifying: QualifyingDays, programme: TierProgramme,
                expected_daily_spend: pd.Series | None,
                expected_source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected qualifying spend per day (the value model's where given, else the trailing pace), its
    source, and E[day spend^2] / E[day spend] over the member's purchase days in the window (NaN: none).

    The value model predicts all spend, excluded lines included: where exclusions are a large share
    of a member's spend, its projection is optimistic (the pace is not: it counts qualifying days only).
    """
    window = pace_window_days(programme)
    days = qualifying.days
    since = pd.Timestamp(state.as_of) - timedelta(days=window)
    recent = days[(days[DAY] >= since) & (days[DAY] < pd.Timestamp(state.as_of))]
    trailing = recent.groupby(contract.MEMBER_ID)[SPEND].sum().reindex(state.members).fillna(0.0).to_numpy()
    pace = np.maximum(trailing, 0.0) / window
    bought = recent[recent[SPEND] > 0].assign(squared=lambda rows: rows[SPEND] ** 2)
    moments = bought.groupby(contract.MEMBER_ID)[[SPEND, "squared"]].sum().reindex(state.members)
    dispersion = (moments["squared"] / moments[SPEND]).to_numpy(dtype=float)
    if expected_daily_spend is None:
        return pace, np.full(len(pace), "pace", dtype=object), dispersion
    model = expected_daily_spend.reindex(state.members).to_numpy(dtype=float)
    from_model = np.isfinite(model)
    return (np.where(from_model, np.maximum(model, 0.0), pace), np.where(from_model, expected_source, "pace"),
            dispersion)
