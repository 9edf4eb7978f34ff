"""Category breadth per member: how many categories, how evenly spread, how concentrated.

Only computed when the transactions carry a ``category`` column; spend is gross (positive lines),
so a return does not make a category look more important.
"""

from __future__ import annotations

import ibis
from ibis.expr.types import Table

from features import contract


def category_breadth(lines: Table) -> Table:
    """Per member: distinct categories bought, Shannon entropy (nats) of spend, top-category share."""
    bought = lines.filter((lines[contract.AMOUNT] > 0) & lines[contract.CATEGORY].notnull())
    per_category = bought.group_by([contract.MEMBER_ID, contract.CATEGORY]).aggregate(
        spend=bought[contract.AMOUNT].sum()
    )
    total = per_category.spend.sum().over(ibis.window(group_by=per_category[contract.MEMBER_ID]))
    shares = per_category.mutate(share=per_category.spend / total)
    return shares.group_by(contract.MEMBER_ID).aggregate(
        categories_distinct=shares.count(),
        category_entropy=-(shares.share * shares.share.ln()).sum(),
        top_category_share=shares.share.max(),
    )
