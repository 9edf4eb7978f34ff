"""Replay a tier programme over members' histories: which card each holds as of any date.

A card depends on the whole history (earned last period, kept or lost at its expiry), so the
replay walks the programme's periods in order, every member at once (numpy over member arrays):

1. during period k, a member's *earned* card is the highest whose ``cumulative`` threshold the
   running maximum of the period's cumulative qualifying spend reached, or whose ``single_day``
   threshold one day's spend reached. ``jump``: the held card rises to it at once; ``step``: at
   most one card per day of purchase. Earning the held card (or a higher one) renews it to the end
   of period k (``card_term: this_period``) or k + 1 (``next_period``).
2. at the end of period k, a card expiring then is kept if the period's spend reached its
   ``retain`` amount, else lowered (``downgrade``) and granted to the end of period k + 1; the
   supreme status (AA) is entered or left on the period's spend (``features.tier_programme.Supreme``).

The state as of a cut-off uses days before it only (``day < as_of``; days are whole local days,
so that is ``ts < as_of`` for a date). A return lowers the period's spend but never an upgrade
already made: the card it gave is reassessed at its expiry like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from features import contract
from features.tier_programme import TierProgramme
from features.tier_spend import DAY, SPEND, QualifyingDays, period_index, period_of


@dataclass(frozen=True)
class TierState:
    """Every member's programme state as of ``as_of`` (arrays aligned with ``members``; ranks index ``codes``).

    ``present`` marks members with a line before ``as_of``. ``card`` is the card rank (0 = entry);
    ``tier`` is the card, or the supreme status's rank above the top card. ``previous`` is the tier held
    on the last day of the period before ``period`` (before its end's assessment); ``expiry`` the last
    period the card is held to (-1: the entry card, which never expires).
    """

    as_of: date
    period: int
    members: pd.Index
    present: np.ndarray
    card: np.ndarray
    tier: np.ndarray
    previous: np.ndarray
    expiry: np.ndarray
    period_spend: np.ndarray


@dataclass(frozen=True)
class _Rows:
    """Qualifying days of one period as arrays, sorted by member then day."""

    member: np.ndarray
    day: np.ndarray
    spend: np.ndarray
    earned: np.ndarray
    ordinal: np.ndarray

    def before(self, as_of: date) -> _Rows:
        keep = self.day < np.datetime64(as_of)
        return _Rows(self.member[keep], self.day[keep], self.spend[keep], self.earned[keep], self.ordinal[keep])


def replay(qualifying: QualifyingDays, programme: TierProgramme, cutoffs: Sequence[date]) -> list[TierState]:
    """The state as of each cut-off (in the order given), from one walk over the periods."""
    members = qualifying.first_day.index
    rows_by_period = _rows_by_period(qualifying.days, members, programme)
    wanted = {c: period_of(c, programme.period) for c in cutoffs}
    if not wanted:
        return []
    first = min([*rows_by_period, *wanted.values()])
    states: dict[date, TierState] = {}
    n = len(members)
    card, expiry, supreme = np.zeros(n, int), np.full(n, -1), np.zeros(n, bool)
    run, previous = np.zeros(n, int), np.zeros(n, int)
    first_day = qualifying.first_day.to_numpy(dtype="datetime64[ns]")
    for k in range(first, max(wanted.values()) + 1):
        rows = rows_by_period.get(k) or _empty_rows()
        for cutoff in (c for c, ck in wanted.items() if ck == k):
            held, held_expiry, spend = _upgrade(card, expiry, rows.before(cutoff), k, programme)
            present = first_day < np.datetime64(cutoff)
            states[cutoff] = TierState(cutoff, k, members, present, held, _tier(held, supreme, programme),
                                       previous.copy(), held_expiry, spend)
        card, expiry, spend = _upgrade(card, expiry, rows, k, programme)
        previous = _tier(card, supreme, programme)
        card, expiry = _assess_cards(card, expiry, spend, k, programme)
        supreme, run = _assess_supreme(supreme, run, spend, programme)
    return [states[c] for c in cutoffs]


def _tier(card: np.ndarray, supreme: np.ndarray, programme: TierProgramme) -> np.ndarray:
    return np.where(supreme, len(programme.cards), card)


def _thresholds(programme: TierProgramme, field: str) -> np.ndarray:
    """One threshold per card above the entry card (inf where a card has none)."""
    values = [getattr(card, field) for card in programme.cards[1:]]
    return np.array([np.inf if v is None else v for v in values], dtype=float)


def _reached(amounts: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The highest card rank (1-based above the entry card) whose threshold ``amounts`` reach; 0 for none."""
    hit = amounts[:, None] >= thresholds[None, :]
    ranks = np.arange(1, len(thresholds) + 1)
    return np.max(np.where(hit, ranks, 0), axis=1, initial=0)


def _rows_by_period(days: pd.DataFrame, members: pd.Index, programme: TierProgramme) -> dict[int, _Rows]:
    """Split the qualifying days by period, with each day's earned card and its ordinal in the period."""
    if days.empty:
        return {}
    k = period_index(days[DAY], programme.period)
    member = members.get_indexer(pd.Index(days[contract.MEMBER_ID]))
    order = np.lexsort((days[DAY].to_numpy(), member, k))
    k, member = k[order], member[order]
    day = days[DAY].to_numpy(dtype="datetime64[ns]")[order]
    spend = days[SPEND].to_numpy(dtype=float)[order]
    group = pd.Series(spend).groupby([k, member], sort=False)
    running = group.cumsum().to_numpy()  # a day's earned card stays earned: the period's maximum is taken later
    earned = np.maximum(_reached(running, _thresholds(programme, "cumulative")),
                        _reached(spend, _thresholds(programme, "single_day")))
    ordinal = group.cumcount().to_numpy()
    bounds = np.flatnonzero(np.diff(k)) + 1
    return {int(part_k[0]): _Rows(*parts) for part_k, *parts in zip(
        np.split(k, bounds), np.split(member, bounds), np.split(day, bounds), np.split(spend, bounds),
        np.split(earned, bounds), np.split(ordinal, bounds))}


def _empty_rows() -> _Rows:
    return _Rows(np.zeros(0, int), np.zeros(0, "datetime64[ns]"), np.zeros(0), np.zeros(0, int), np.zeros(0, int))


def _upgrade(card: np.ndarray, expiry: np.ndarray, rows: _Rows, k: int,
             programme: TierProgramme) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cards, expiries and period spend after period ``k``'s ``rows`` (upgrades are immediate)."""
    earned, spend = np.zeros_like(card), np.zeros(len(card))
    np.maximum.at(earned, rows.member, rows.earned)
    np.add.at(spend, rows.member, rows.spend)
    held = np.maximum(card, earned) if programme.promotion == "jump" else _stepped(card, rows)
    term = 1 if programme.card_term == "next_period" else 0
    renewed = (earned >= held) & (held > 0)
    return held, np.where(renewed, np.maximum(expiry, k + term), expiry), spend


def _stepped(card: np.ndarray, rows: _Rows) -> np.ndarray:
    """Step promotion: each day of purchase lifts the card by at most one, towards that day's earned card."""
    held = card.copy()
    order = np.argsort(rows.ordinal, kind="stable")
    ordinal = rows.ordinal[order]
    starts = np.searchsorted(ordinal, np.arange(ordinal.max() + 1 if len(ordinal) else 0))
    for chunk in np.split(order, starts[1:]):  # one day per member in each chunk
        m = rows.member[chunk]
        held[m] = np.maximum(held[m], np.minimum(rows.earned[chunk], held[m] + 1))
    return held


def _assess_cards(card: np.ndarray, expiry: np.ndarray, spend: np.ndarray, k: int,
                  programme: TierProgramme) -> tuple[np.ndarray, np.ndarray]:
    """End of period ``k``: cards expiring now are kept on ``retain`` or lowered; both run to k + 1."""
    retain = np.concatenate([[-np.inf], _thresholds(programme, "retain")])
    due = (card > 0) & (expiry <= k)
    kept = spend >= retain[card]
    if programme.downgrade == "one_step":
        lowered = card - 1
    else:
        lowered = np.minimum(card - 1, _reached(spend, retain[1:]))
    card = np.where(due & ~kept, lowered, card)
    expiry = np.where(due, np.where(card > 0, k + 1, -1), expiry)
    return card, expiry


def _assess_supreme(supreme: np.ndarray, run: np.ndarray, spend: np.ndarray,
                    programme: TierProgramme) -> tuple[np.ndarray, np.ndarray]:
    """End of a period: enter AA on one big period or a run of good ones; leave it below ``exit_below``."""
    rule = programme.supreme
    if rule is None:
        return supreme, run
    run = np.where(spend >= rule.each_at_least, run + 1, 0)
    enter = run >= rule.consecutive_periods
    if rule.or_one_period_at_least is not None:
        enter |= spend >= rule.or_one_period_at_least
    return np.where(supreme, spend >= rule.exit_below, enter), run
