"""Who is calling: the identity the API-key check (``serving.auth``) attaches to every request it lets in.

Routes, the audit log and role checks read it from the ASGI scope (``caller_of``), so none of them
parses a header or knows how keys are stored. The key itself never appears here: only its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

Role = Literal["crm", "marketer", "analyst", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
SCOPE_KEY: Final = "memberscore.caller"


@dataclass(frozen=True)
class Caller:
    """A key's name and rights: its role, the stores it may see (empty: all) and whether raw member ids."""

    name: str
    role: Role
    stores: tuple[str, ...] = ()
    raw_ids: bool = False


# The operator's own process with authentication switched off (--insecure-no-auth, local use only).
UNAUTHENTICATED: Final = Caller(name="insecure-no-auth", role="admin", raw_ids=True)


def caller_of(scope: Mapping[str, Any]) -> Caller | None:
    """The caller the key check attached; None for an anonymous request (a public path such as the
    probes or the pages, reached without a valid key) or outside HTTP."""
    caller = scope.get(SCOPE_KEY)
    return caller if isinstance(caller, Caller) else None
