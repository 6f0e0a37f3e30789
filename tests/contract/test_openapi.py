"""What the services' OpenAPIs promise matches what they answer (issue 17 item 9): every API
operation documents its error answers in the platform's error shape, `/metrics` is declared as
the Prometheus text it is, and the CloudEvents routes refuse a body that is not JSON."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import httpx
import pytest
from alliance_shared.auth import mint_token
from alliance_shared.contracts.vocabulary import Role
from fastapi import FastAPI
from pydantic import BaseModel

pytestmark = pytest.mark.unit

SERVICES = ("registry", "activity", "evaluation", "notification")
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}


@cache
def spec(name: str) -> dict[str, Any]:
    return service_app(name).openapi()


@cache
def service_app(name: str) -> FastAPI:
    settings_class = getattr(importlib.import_module(f"alliance_{name}.settings"), f"{name.capitalize()}Settings")
    app: FastAPI = importlib.import_module(f"alliance_{name}.app").create_app(settings_class(environment="test"))
    return app


@pytest.mark.parametrize("service", SERVICES)
def test_every_api_operation_documents_its_error_answers_in_the_error_shape(service: str) -> None:
    operations = [(path, method, op) for path, ops in spec(service)["paths"].items() if path.startswith("/api/")
                  for method, op in ops.items()]
    assert operations
    for path, method, op in operations:
        expected = {"401", "403", "404", "422", "503"} | ({"409", "413"} if method != "get" else set())
        documented = {code for code, answer in op["responses"].items()
                      if answer.get("content", {}).get("application/json", {}).get("schema") == ERROR_SCHEMA}
        assert expected <= documented, f"{method.upper()} {path}: {sorted(expected - documented)} undocumented"


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_is_declared_as_text(service: str) -> None:
    assert list(spec(service)["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/events:validate"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_a_cloudevents_route_refuses_a_body_that_is_not_json_with_415(path: str, content_type: str) -> None:
    app = service_app("activity")
    token = mint_token(app.state.settings.auth_jwt_secret, role=Role.INSTITUTION_ADMIN, subject="admin-a",
                       institution_id="inst-a")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://activity.test") as client:
        answer = await client.post(path, content=b'{"specversion": "1.0"}',
                                   headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    assert answer.status_code == 415, answer.text
    error = answer.json()["error"]
    assert error["field"] == "Content-Type" and error["message"].startswith("请求体须为 application/cloudevents+json")


@pytest.mark.parametrize(("service", "path"), [("evaluation", "/api/v1/scans/lagging"),
                                             ("evaluation", "/api/v1/periods/{period}/rescore"),
                                             ("registry", "/api/v1/scans/transfers")])
def test_a_long_request_is_documented_as_a_job_answered_202_with_a_status_url(service: str, path: str) -> None:
    operation = spec(service)["paths"][path]["post"]
    assert {"200", "202"} <= set(operation["responses"]), sorted(operation["responses"])
    assert "wait" in [p["name"] for p in operation["parameters"]]
    assert set(spec(service)["paths"]["/api/v1/jobs/{job_id}"]["get"]["responses"]) >= {"200", "403", "404"}


# Every answer is built from a declared model (issue 18): a route answering a hand-built dict is
# documented as a bare "object", and this finds it.
ANSWERS_MODELLED = SERVICES


def _names_fields(schema: dict[str, Any]) -> bool:
    """A model, an array of them, or one of several models; not a bare object."""
    if {"$ref", "properties", "items"} & set(schema):
        return True
    choices = schema.get("anyOf") or schema.get("oneOf") or []
    return bool(choices) and all(_names_fields(c) for c in choices)


def _undocumented_answers(service: str) -> list[str]:
    return _undocumented(spec(service))


def _undocumented(document: dict[str, Any]) -> list[str]:
    """Each success answer with JSON content whose schema names no fields (a bare object)."""
    found = []
    for path, ops in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in ops.items():
            for code, answer in op["responses"].items():
                content = answer.get("content")
                if not code.startswith("2") or code == "204" or (content and "application/json" not in content):
                    continue  # no body, or not JSON (a workbook)
                schema = (content or {}).get("application/json", {}).get("schema") or {}
                if not _names_fields(schema):
                    found.append(f"{method.upper()} {path} {code}")
    return found


@pytest.mark.parametrize("service", ANSWERS_MODELLED)
def test_every_success_answer_of_the_service_is_documented_by_its_model(service: str) -> None:
    assert _undocumented_answers(service) == []


def test_a_route_answering_a_bare_dict_is_found_undocumented() -> None:
    """The check itself, on an app with one route of each kind."""
    app = FastAPI()

    class Answer(BaseModel):
        id: str

    @app.get("/api/v1/bare")
    async def bare() -> dict[str, Any]:
        return {}

    @app.get("/api/v1/modelled", response_model=Answer)
    async def modelled() -> dict[str, Any]:
        return {"id": "x"}

    assert _undocumented(app.openapi()) == ["GET /api/v1/bare 200"]
