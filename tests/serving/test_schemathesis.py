"""Property-based API test: schemathesis generates valid and invalid requests for every operation of
the published OpenAPI document and sends them to a real server, with a valid key and with bad keys.

The properties: never a server error; with a bad key, every data endpoint answers 401 whatever
the body (the key check runs before parsing); with a key of a role, every route its role may not
use answers 403 naming the role, whatever the body, and the others never a server error.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from serving.auth import is_public
from serving.caller import Role
from serving.roles import forbidden_text, roles_for
from tests.serving.conftest import API_KEY, ROLE_KEYS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 20
ROLE_EXAMPLES = {True: 2, False: 3}  # per operation, allowed / refused; the admin key fuzzes the allowed ones above
PROPERTY_SETTINGS = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def operations(server: str) -> list[schemathesis.APIOperation]:
    """Every operation of the document the running server publishes."""
    loaded = schemathesis.openapi.from_url(f"{server}/docs.json", timeout=30)
    return [result.ok() for result in loaded.get_all_operations()]


def test_published_document_lists_every_endpoint(server: str) -> None:
    paths = httpx.get(f"{server}/docs.json", timeout=30).json()["paths"]
    for path in ("/score", "/score_features", "/explain", "/segments", "/campaigns", "/targets", "/metadata",
                 "/readiness", "/admin/reload", "/healthz", "/readyz"):
        assert path in paths, path


def check_every_operation(operations: list[schemathesis.APIOperation], mode: GenerationMode, key: str) -> None:
    """Generated requests for each operation (hypothesis, derandomized): no 5xx; 401 on data paths with a bad key.

    The schemathesis pytest plugin does not run under pytest 9 yet, so hypothesis drives each
    operation's strategy directly.
    """
    bad_key = key != API_KEY
    exercised = []
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @PROPERTY_SETTINGS
        def no_server_error(case: schemathesis.Case) -> None:
            response = case.call(headers={"X-API-Key": key}, timeout=60)
            where = (mode.value, case.method, case.formatted_path, response.status_code, response.text[:300])
            assert response.status_code < 500, where
            if bad_key and not is_public(case.path):
                assert response.status_code == 401, where

        try:
            no_server_error()
            exercised.append(operation.label)
        except Unsatisfiable:  # negative mode: an operation without parameters or body has nothing to break
            assert mode is GenerationMode.NEGATIVE and not operation.body and not operation.query, operation.label
    assert any(label.startswith("POST /score") for label in exercised) and any("/targets" in label for label in exercised)


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_no_server_error_with_a_valid_key(operations: list[schemathesis.APIOperation], mode: GenerationMode) -> None:
    check_every_operation(operations, mode, API_KEY)


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_bad_keys_get_401_and_never_a_server_error(operations: list[schemathesis.APIOperation],
                                                   mode: GenerationMode) -> None:
    check_every_operation(operations, mode, "not-" + API_KEY)


def check_role_operation(operation: schemathesis.APIOperation, role: Role) -> bool:
    """Generated valid requests with the role's key: never a 5xx; a 403 naming the role off its routes.
    Whether the role may use the operation."""
    allowed = is_public(operation.path) or role in roles_for(operation.method, operation.path)

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    @settings(PROPERTY_SETTINGS, max_examples=ROLE_EXAMPLES[allowed])
    def answers_by_role(case: schemathesis.Case) -> None:
        response = case.call(headers={"X-API-Key": ROLE_KEYS[role]}, timeout=60)
        where = (role, case.method, case.formatted_path, response.status_code, response.text[:300])
        assert response.status_code < 500, where
        if not allowed:
            assert (response.status_code, response.json()) == (403, {"error": forbidden_text(role)}), where

    answers_by_role()
    return allowed


@pytest.mark.parametrize("role", ["crm", "marketer", "analyst"])
def test_each_role_gets_403_off_its_routes_and_never_a_server_error(operations: list[schemathesis.APIOperation],
                                                                   role: Role) -> None:
    """Every operation with the role's key (admin's is the env key of the tests above)."""
    allowed = [check_role_operation(operation, role) for operation in operations]
    assert any(allowed) and not all(allowed)
