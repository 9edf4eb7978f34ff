"""Which role may call which route: one table, checked by the key check before routing.

A route missing from the table is ``admin`` only, so a new route is closed to every other role
until it is listed here (``tests/serving/test_roles.py`` fails for a route of the app that is not).
A refused call is a 403 naming the caller's role and nothing else: the same answer for a route
that exists and one that does not, so the 403s do not map the API for a key that may not use it.
"""

from __future__ import annotations

import re
from typing import Final

from serving.caller import Role

SCORING: Final[frozenset[Role]] = frozenset({"crm", "analyst", "admin"})
READING: Final[frozenset[Role]] = frozenset({"marketer", "analyst", "admin"})
CAMPAIGNING: Final[frozenset[Role]] = frozenset({"marketer", "admin"})
ANALYSING: Final[frozenset[Role]] = frozenset({"analyst", "admin"})
ADMIN: Final[frozenset[Role]] = frozenset({"admin"})

# (method, path template) -> roles. Read-only routes are open to analysts (POST /score,
# /score_features, /explain and /targets compute and store nothing); the marketers' routes are
# the page's calls (segments, metadata, targets, campaigns, KPIs, alerts and drift monitoring); creating a campaign
# stores one, so it is the marketer's and the admin's.
ROUTE_ROLES: Final[dict[tuple[str, str], frozenset[Role]]] = {
    ("POST", "/score"): SCORING,
    ("POST", "/score_features"): SCORING,
    ("POST", "/explain"): ANALYSING,
    ("GET", "/metadata"): READING,
    ("GET", "/segments"): READING,
    ("POST", "/targets"): READING,
    ("GET", "/kpis"): READING,
    ("GET", "/alerts"): READING,
    ("GET", "/monitoring"): READING,
    ("GET", "/campaigns"): READING,
    ("POST", "/campaigns"): CAMPAIGNING,
    ("GET", "/campaigns/{campaign_id}"): READING,
    ("GET", "/campaigns/{campaign_id}/effect"): READING,
    ("POST", "/admin/reload"): ADMIN,
}


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part)
                              for part in re.split(r"(\{[^}]+\})", template)))


PATTERNS: Final = tuple((method, _pattern(template), roles) for (method, template), roles in ROUTE_ROLES.items())


def roles_for(method: str, path: str) -> frozenset[Role]:
    """The roles that may call ``method path`` (HEAD as GET); an unlisted route: admin only."""
    asked = "GET" if method.upper() == "HEAD" else method.upper()
    for listed, pattern, roles in PATTERNS:
        if listed == asked and pattern.fullmatch(path):
            return roles
    return ADMIN


def allowed(role: Role, method: str, path: str) -> bool:
    return role in roles_for(method, path)


def forbidden_text(role: Role) -> str:
    """The 403's error: the caller's role, not which routes exist or which role would do."""
    return f"role {role!r}: this key may not use this route"
