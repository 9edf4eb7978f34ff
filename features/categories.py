"""Category breadth per member: how many categories, how evenly spread, how concentrated.

Only computed when the transactions carry a ``category`` column; spend is gross (positive lines),
so a return does not make a category look more important.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import ibis
import pandas as pd
from ibis.expr.types import Table

from features import contract
from features.engine import exact_sum


def category_breadth(lines: Table) -> Table:
    """Per member: distinct categories bought, Shannon entropy (nats) of spend, top-category share."""
    bought = lines.filter((lines[contract.AMOUNT] > 0) & lines[contract.CATEGORY].notnull())
    per_category = bought.group_by([contract.MEMBER_ID, contract.CATEGORY]).aggregate(
        spend=exact_sum(bought[contract.AMOUNT])
    )
    total = exact_sum(per_category.spend, over=ibis.window(group_by=per_category[contract.MEMBER_ID]))
    shares = per_category.mutate(share=per_category.spend / total)
    return shares.group_by(contract.MEMBER_ID).aggregate(
        categories_distinct=shares.count(),
        # each term rounded to 1e-15, then added exactly: the same entropy in any order
        category_entropy=-exact_sum(shares.share * shares.share.ln(), decimals=15),
        top_category_share=shares.share.max(),
    )


SHARE_PREFIX = "share_"
MAX_SHARE_COLUMNS = 100


def category_slug(category: str) -> str:
    """Lower-case [a-z0-9_] form of a category name for feature columns ("Café & Bar" -> "cafe_bar"); a name
    with no ASCII letters or digits keeps its own ("饮料 | 茶" -> "饮料_茶")."""
    slug = _slug(category)
    if not slug:
        raise ValueError(f"category {category!r} has no letters or digits to name a column by")
    return slug


def share_column(category: str) -> str:
    """The feature name of a member's spend share in ``category``: ``share_`` + its slug.

    A snapshot must not fail on a category made only of symbols: that one becomes ``share_blank``.
    """
    return SHARE_PREFIX + (_slug(category) or "blank")


def _slug(category: str) -> str:
    """ASCII when the name folds to any (so "Café" stays "cafe"); else its own letters ("饮料")."""
    ascii_name = unicodedata.normalize("NFKD", str(category)).encode("ascii", "ignore").decode()
    folded = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    return folded or re.sub(r"[\W_]+", "_", unicodedata.normalize("NFKC", str(category)).lower()).strip("_")


def category_shares(transactions: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Each member's share of gross spend per category before ``as_of``, one column per category.

    Only the MAX_SHARE_COLUMNS categories with the most buyers get a column (a model offers only
    frequent categories); categories whose slugs collide share one column. Members are those
    with any positive line before ``as_of``; a model needing a column absent here reads it as 0.
    """
    # only the three columns it reads are copied: memray put a copy of every column of the lines
    # before as_of (2.1 GB at 53 M lines) at the snapshot's peak
    keep = (transactions[contract.TS] < pd.Timestamp(as_of)) & (transactions[contract.AMOUNT] > 0) \
        & transactions[contract.CATEGORY].notna()
    bought = transactions.loc[keep, [contract.MEMBER_ID, contract.CATEGORY, contract.AMOUNT]]
    spend = bought.groupby([contract.MEMBER_ID, contract.CATEGORY], observed=True)[contract.AMOUNT].sum()
    buyers = spend.groupby(level=contract.CATEGORY, observed=True).size()
    frequent = buyers.sort_index().sort_values(ascending=False, kind="stable").index[:MAX_SHARE_COLUMNS]
    spend = spend[spend.index.get_level_values(contract.CATEGORY).isin(frequent)]
    shares = spend / bought.groupby(contract.MEMBER_ID, observed=True)[contract.AMOUNT].sum().reindex(
        spend.index.get_level_values(contract.MEMBER_ID)).to_numpy()
    categories = shares.index.get_level_values(contract.CATEGORY)
    columns = categories.map({category: share_column(category) for category in categories.unique()})  # one slug per category
    wide = shares.groupby([shares.index.get_level_values(contract.MEMBER_ID), columns.rename(contract.CATEGORY)],
                          observed=True).sum().unstack(fill_value=0.0)
    wide.columns = wide.columns.astype(str)
    wide = wide.reindex(columns=sorted(wide.columns)).astype("float64").reset_index()
    wide[contract.MEMBER_ID] = wide[contract.MEMBER_ID].astype("string")
    return wide.rename_axis(columns=None)
