"""Every list route of every service validates its paging inputs: an out-of-range page, page size
or limit is a 422 naming the parameter, never a 500 from the store (issue 17 item 5). The routes
are read from each service's OpenAPI, so a new list route is covered without an entry here."""

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


def paged_routes() -> Iterator[tuple[str, str, str, dict[str, str], str]]:
    for name in SERVICES:
        for path, operations in service_app(name).openapi()["paths"].items():
            for method, operation in operations.items():
                query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
                required = {p["name"]: _value(p) for p in query if p.get("required")}
                url = path.replace("{period}", "2026-Q3")
                for p in query:
                    if p["name"] in PAGING:
                        yield name, method, url, required, p["name"]


ROUTES = list(paged_routes())


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
    app = service_app(service)
    token = mint_token(app.state.settings.auth_jwt_secret, role=Role.SECRETARIAT, subject="secretariat-1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc.test") as client:
        answer = await client.request(method, url, params={**required, parameter: value},
                                      headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == parameter
