"""Inputs every route of every service checks before it touches the store, read from the services'
OpenAPIs so that a new route is covered without an entry here: paging inputs out of range are 422
naming the parameter, never a 500 from the store (issue 17 item 5); another institution's
`institution_id` filter is 403 for a scoped caller, never narrowed to their own (item 8)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest
from alliance_shared.auth import mint_token
from alliance_shared.contracts.vocabulary import Role
from fastapi import FastAPI

pytestmark = pytest.mark.unit

SERVICES = ("registry", "activity", "evaluation", "notification")
PAGING = ("page", "page_size", "limit")
HUGE = "2565459684445514629120"  # what schemathesis sent; any value past the bound behaves alike


@cache
def service_app(name: str) -> FastAPI:
    """The service's app as its composition root builds it; nothing connects without the lifespan."""
    settings_module = importlib.import_module(f"alliance_{name}.settings")
    settings_class = getattr(settings_module, f"{name.capitalize()}Settings")
    app: FastAPI = importlib.import_module(f"alliance_{name}.app").create_app(settings_class(environment="test"))
    return app


def _value(parameter: dict[str, Any]) -> str:
    schema = parameter.get("schema", {})
    choices = schema.get("enum") or [s["const"] for s in schema.get("anyOf", []) if "const" in s]
    if choices:
        return str(choices[0])
    return "2026-Q3" if parameter["name"] == "period" else "x"


def routes_taking(names: tuple[str, ...]) -> Iterator[tuple[str, str, str, dict[str, str], str]]:
    """(service, method, url, required query, parameter) for each query parameter in `names`."""
    for name in SERVICES:
        for path, operations in service_app(name).openapi()["paths"].items():
            for method, operation in operations.items():
                parameters = operation.get("parameters", [])
                query = [p for p in parameters if p["in"] == "query"]
                required = {p["name"]: _value(p) for p in query if p.get("required")}
                url = path
                for p in parameters:
                    if p["in"] == "path":
                        url = url.replace("{" + p["name"] + "}", _value(p))
                for p in query:
                    if p["name"] in names:
                        yield name, method, url, required, p["name"]


ROUTES = list(routes_taking(PAGING))
FILTERED = [(s, m, u, r) for s, m, u, r, _ in routes_taking(("institution_id",))]


async def _call(service: str, method: str, url: str, params: dict[str, str], **claims: Any) -> httpx.Response:
    app = service_app(service)
    token = mint_token(app.state.settings.auth_jwt_secret, **claims)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc.test") as client:
        return await client.request(method, url, params=params, headers={"Authorization": f"Bearer {token}"})


def test_the_services_have_paged_routes_to_check():
    assert {(svc, url) for svc, _, url, _, _ in ROUTES} >= {
        ("registry", "/api/v1/institutions"), ("activity", "/api/v1/submissions"),
        ("notification", "/api/v1/deliveries"), ("evaluation", "/api/v1/lagging")}


@pytest.mark.parametrize(("service", "method", "url", "required", "parameter"), ROUTES,
                         ids=[f"{s}:{m} {u}?{p}" for s, m, u, _, p in ROUTES])
@pytest.mark.parametrize("value", [HUGE, "0"])
async def test_an_out_of_range_paging_input_is_422_naming_it(
    service: str, method: str, url: str, required: dict[str, str], parameter: str, value: str
) -> None:
    answer = await _call(service, method, url, {**required, parameter: value},
                         role=Role.SECRETARIAT, subject="secretariat-1")
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == parameter


def test_the_services_have_institution_filters_to_check():
    assert {(svc, url) for svc, _, url, _ in FILTERED} >= {
        ("activity", "/api/v1/submissions"), ("notification", "/api/v1/deliveries"),
        ("evaluation", "/api/v1/lagging")}


@pytest.mark.parametrize(("service", "method", "url", "required"), FILTERED,
                         ids=[f"{s}:{m} {u}" for s, m, u, _ in FILTERED])
@pytest.mark.parametrize("role", [Role.INSTITUTION_ADMIN, Role.BRANCH_SECRETARY])
async def test_another_institutions_filter_is_403_for_a_scoped_caller(
    service: str, method: str, url: str, required: dict[str, str], role: Role
) -> None:
    answer = await _call(service, method, url, {**required, "institution_id": "inst-a"},
                         role=role, subject="person-b", institution_id="inst-b", organization_id="org-b")
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["field"] == "institution_id"
