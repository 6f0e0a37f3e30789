"""The BOLA matrix, generated from the routes: every route of every service, read from its FastAPI app
(included routers walked, routes hidden from the OpenAPI too), that takes an institution, organisation
or member id — in its path, its query or its JSON body — is called against the running platform with
institution B's ids by institution A's admin, A's branch secretary and A's API key, and must answer
403 or 404 (401 for a machine key where people sign in); without credentials it must answer 401.
A new route is in the matrix as soon as it names one of those ids; one that serves B's resource to A
fails here."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import httpx
import pytest
import pytest_asyncio
from e2e_alliance import Alliance, register_alliance
from e2e_api import Platform, current_period, token
from fastapi import FastAPI
from fastapi.routing import APIRoute

pytestmark = [pytest.mark.e2e]

SERVICES = ("registry", "activity", "evaluation", "notification")
# the ids of a tenant's resources, by parameter or body field name
OWNED = {"institution_id", "organization_id", "member_id", "institution_ids", "object_id"}
REFUSED = {403, 404}


@cache
def service_app(name: str) -> FastAPI:
    settings_class = getattr(importlib.import_module(f"alliance_{name}.settings"), f"{name.capitalize()}Settings")
    app: FastAPI = importlib.import_module(f"alliance_{name}.app").create_app(settings_class(environment="test"))
    return app


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # an included router, resolved lazily by FastAPI
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)


def _params(dependant: Any) -> list[Any]:
    found = [*dependant.path_params, *dependant.query_params]
    for sub in dependant.dependencies:
        found += _params(sub)
    return found


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body: dict[str, Any] | None  # the JSON body's schema, resolved, where the route takes one
    owned: tuple[str, ...]  # the parameters and body fields naming a tenant's resource
    parameters: tuple[tuple[str, bool, Any], ...] = ()  # (name, required, schema) from the OpenAPI

    @property
    def label(self) -> str:
        return f"{self.service}:{self.method} {self.path}"


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def routes() -> list[Route]:
    out = []
    for name in SERVICES:
        app = service_app(name)
        spec = app.openapi()
        for path, route in _walk(app.routes):
            params = _params(route.dependant)
            path_names = tuple(p.name for p in params if p in route.dependant.path_params or "{" + p.name + "}" in path)
            query_names = tuple(p.name for p in params if p.name not in path_names)
            for method in sorted(route.methods):
                operation = spec["paths"].get(path, {}).get(method.lower(), {})
                body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
                body = _resolve(body_schema["schema"], spec) if body_schema else None
                fields = tuple((body or {}).get("properties", {}))
                owned = tuple(n for n in (*path_names, *query_names, *fields) if n in OWNED)
                declared = tuple((p["name"], bool(p.get("required")), p.get("schema", {}))
                                 for p in operation.get("parameters", []))
                out.append(Route(name, method, path, path_names, query_names, body, owned, declared))
    return out


ROUTES = routes()
# the L1 form's and the review page's sign-ins mint a branch secretary's (an institution admin's) JWT
# for any branch (institution), in development only (FORM_DEV_SIGN_IN; anywhere else 404 and the
# organisation's SSO): out of the matrix, checked below
DEVELOPMENT_ONLY = {"activity:POST /api/v1/forms/sign-in", "activity:POST /api/v1/reviews/sign-in"}
MATRIX = [r for r in ROUTES if r.owned and r.label not in DEVELOPMENT_ONLY]


@dataclass
class Tenants:
    a: Alliance
    b: Alliance


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tenants(platform: Platform) -> Tenants:
    return Tenants(await register_alliance(platform), await register_alliance(platform))


def _example(schema: dict[str, Any], spec: dict[str, Any], name: str = "") -> Any:
    """A small value the schema accepts, so that a write reaches its authorization."""
    schema = _resolve(schema, spec)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return _example(options[0], spec, name)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", []))
        return {k: _example(v, spec, k) for k, v in schema.get("properties", {}).items() if k in required}
    if kind == "array":
        return [_example(schema.get("items", {}), spec, name)] if schema.get("minItems") else []
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if name == "meeting_kind":
        return "theme_party_day"
    if name == "held_at":
        return f"{date.today()}T10:00:00+08:00"
    if name == "period" or "Q[1-4]" in schema.get("pattern", ""):
        return current_period()
    if schema.get("format") == "date":
        return str(date.today())
    if schema.get("format") == "date-time":
        return f"{date.today()}T10:00:00+08:00"
    return "跨机构访问检查" + "x" * max(0, schema.get("minLength", 0) - 7)


def request_for(route: Route, b: Alliance) -> dict[str, Any]:
    """The route's URL, query and body naming institution B's resources."""
    ids = {"institution_id": b.institution_id, "organization_id": b.branch, "member_id": b.members[0],
           "object_id": b.institution_id, "institution_ids": [b.institution_id]}
    spec = service_app(route.service).openapi()
    declared = {name: (required, schema) for name, required, schema in route.parameters}
    url = route.path
    for name in route.path_params:
        value = ids.get(name) or (_example(declared[name][1], spec, name) if name in declared else "bola-unknown")
        url = url.replace("{" + name + "}", str(value))
    params = {n: ids[n] for n in route.query_params if n in ids}
    for name in route.query_params:
        required, schema = declared.get(name, (False, {}))
        if name not in params and (required or name == "period"):
            params[name] = _example(schema, spec, name)
    request: dict[str, Any] = {"url": url, "params": params}
    if route.body is not None:
        body = _example(route.body, spec)
        body.update({k: ids[k] for k in route.owned if k in route.body.get("properties", {})})
        if "object_type" in body:
            body["object_type"] = "institution"
        request["json"] = body
    return request


CALLERS = ("institution_admin", "branch_secretary", "api_key")


def _rejected_whole(answer: httpx.Response) -> bool:
    """An ingestion's answer that accepted nothing and gave its reasons: the contract's refusal of an
    event about another institution's branch or member (rejected with a reason, never stored)."""
    if answer.status_code not in (200, 202):
        return False
    body = answer.json()
    return isinstance(body, dict) and body.get("accepted") == 0 and bool(body.get("rejected"))


def _credentials(caller: str, a: Alliance) -> dict[str, str]:
    if caller == "api_key":
        return {"X-Api-Key": a.api_key}
    claims = {"organization_id": a.branch} if caller == "branch_secretary" else {}
    return {"Authorization": f"Bearer {token(caller, institution_id=a.institution_id, **claims)}"}


def test_the_matrix_is_read_from_the_routes_and_covers_every_service() -> None:
    assert {r.service for r in MATRIX} == set(SERVICES)
    labels = {r.label for r in MATRIX}
    assert {"registry:GET /api/v1/members/{member_id}", "registry:POST /api/v1/organizations",
            "activity:POST /api/v1/webhooks/{institution_id}", "notification:GET /api/v1/deliveries",
            "evaluation:GET /api/v1/periods/{period}/institutions/{institution_id}"} <= labels
    assert len(MATRIX) >= 30, sorted(labels)


async def test_no_route_serves_institution_bs_resources_to_institution_a(platform: Platform, tenants: Tenants) -> None:
    failures = []
    async with httpx.AsyncClient(timeout=30) as client:
        for route in MATRIX:
            request = request_for(route, tenants.b)
            for caller in CALLERS:
                answer = await client.request(route.method, platform.urls[route.service] + request["url"],
                                              params=request["params"], json=request.get("json"),
                                              headers=_credentials(caller, tenants.a))
                # a signed webhook knows no bearer or key: any other credentials are a bad signature (401)
                allowed = REFUSED | ({401} if caller == "api_key" or "/webhooks/" in route.path else set())
                if answer.status_code not in allowed and not _rejected_whole(answer):
                    failures.append(f"{route.label} as A's {caller}: {answer.status_code} {answer.text[:160]}")
            anonymous = await client.request(route.method, platform.urls[route.service] + request["url"],
                                             params=request["params"], json=request.get("json"))
            if anonymous.status_code != 401:
                failures.append(f"{route.label} without credentials: {anonymous.status_code} {anonymous.text[:160]}")
    assert not failures, f"{len(failures)} of {len(MATRIX) * (len(CALLERS) + 1)} calls:\n" + "\n".join(failures)


async def test_the_same_reads_of_its_own_resources_are_served_to_institution_a(
    platform: Platform, tenants: Tenants
) -> None:
    """The control: the refusals above are about B's ids, not credentials or requests that never work."""
    served, refused = [], []
    async with httpx.AsyncClient(timeout=30) as client:
        for route in (r for r in MATRIX if r.method == "GET"):
            request = request_for(route, tenants.a)
            answer = await client.get(platform.urls[route.service] + request["url"], params=request["params"],
                                      headers=_credentials("institution_admin", tenants.a))
            (served if answer.status_code == 200 else refused).append(f"{route.label}: {answer.status_code}")
    assert len(served) >= 15, f"served {served}, refused {refused}"
    assert {"registry:GET /api/v1/members/{member_id}: 200",
            "registry:GET /api/v1/institutions/{institution_id}: 200"} <= set(served), served


async def test_the_forms_development_sign_in_is_not_served_outside_development() -> None:
    app = service_app("activity")  # environment "test": as in production, the organisation's SSO signs in
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://activity.test") as client:
        answer = await client.post("/api/v1/forms/sign-in", json={"organization_id": "org-b", "institution_id": "b"})
        reviewer = await client.post("/api/v1/reviews/sign-in", json={"institution_id": "b"})
    assert answer.status_code == 404, answer.text
    assert reviewer.status_code == 404, reviewer.text
