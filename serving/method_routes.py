"""BentoML's method routes, handed their service instance on the event loop.

A FastAPI route written as a method of a BentoML service gets ``self`` from a dependency BentoML
adds, ``bentoml.get_current_service``: a plain function, which FastAPI runs in its thread pool. So
every request to such a route hopped to a thread and back before any of its own work, a fifth of a
single-member ``/score``'s CPU in process (bench/RESULTS.md, 2026-12-07).

FastAPI's ``dependency_overrides`` would avoid the hop at a higher price: with any override set,
FastAPI analyses every dependency of every request again. Instead, once BentoML has made the method
routes, their ``self`` is pointed at an async twin returning the same instance. FastAPI builds an
included route's dependencies from the endpoint's signature when the route is first used, which is
after this runs (``tests/serving/test_method_routes.py`` counts the thread hops of real requests).
"""

from __future__ import annotations

import inspect

from bentoml import get_current_service  # once: ``bentoml.<name>`` runs an import statement at every lookup
from fastapi import Depends


async def current_service() -> object:
    """The running service instance, as ``bentoml.get_current_service`` returns it (an error before start-up)."""
    return get_current_service()


def serve_instance_on_the_event_loop(service_class: type) -> int:
    """Point every method route of ``service_class`` at ``current_service``; returns how many."""
    pointed = 0
    for member in vars(service_class).values():
        signature = getattr(member, "__signature__", None)
        if not isinstance(signature, inspect.Signature) or not signature.parameters:
            continue
        first, *rest = signature.parameters.values()
        if getattr(first.default, "dependency", None) is get_current_service:
            member.__signature__ = signature.replace(parameters=[first.replace(default=Depends(current_service)), *rest])
            pointed += 1
    return pointed
