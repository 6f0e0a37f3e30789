"""The registry app against the real broker and store, in a fresh namespace per test: an HTTP
client through the app (lifespan running), tokens for every role, and a reader of the topic."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import alliance_shared
import httpx
import jsonschema
import pytest
from alliance_localinfra import create_topics
from alliance_registry.app import create_app
from alliance_registry.settings import RegistrySettings
from alliance_shared.auth import mint_token
from alliance_shared.clock import FixedClock
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import REGISTRY_EVENTS, TOPICS
from alliance_shared.mongo import connect
from alliance_shared.testing import TopicReader, namespace

SCHEMAS = Path(alliance_shared.__file__).parent / "contracts" / "published" / "schemas"


@cache
def schema(event_type: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{event_type}.json").read_text())


def assert_valid(event: CloudEvent) -> None:
    """`event.data` satisfies the published JSON Schema of its type."""
    jsonschema.validate(event.data, schema(event.type))


@pytest.fixture
def ns() -> str:
    return namespace("reg")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 7, 15, 2, 0, tzinfo=UTC))


@pytest.fixture
def settings(infra, ns) -> RegistrySettings:
    return RegistrySettings(
        environment="test",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        kafka_topic_prefix=f"{ns}.",
        mongodb_database=ns.replace("-", "_"),
        transfer_scan_interval_s=0.2,
    )


class Api:
    """An HTTP client of the registry plus tokens for any role."""

    def __init__(self, client: httpx.AsyncClient, settings: RegistrySettings, app: Any) -> None:
        self.client = client
        self.settings = settings
        self.app = app
        self.answers: list[str] = []  # every answer body, to check that none carries personal data

    def token(
        self, role: str, institution_id: str | None = None, organization_id: str | None = None
    ) -> dict[str, str]:
        token = mint_token(
            self.settings.auth_jwt_secret,
            role=role,
            subject=f"{role}-user",
            institution_id=institution_id,
            organization_id=organization_id,
        )
        return {"Authorization": f"Bearer {token}"}

    @property
    def secretariat(self) -> dict[str, str]:
        return self.token("secretariat")

    def admin(self, institution_id: str) -> dict[str, str]:
        return self.token("institution_admin", institution_id)

    def secretary(self, organization_id: str, institution_id: str | None = None) -> dict[str, str]:
        return self.token("branch_secretary", institution_id, organization_id)

    async def request(self, method: str, url: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        response = await self.client.request(method, url, headers=headers, **kw)
        self.answers.append(response.text)
        return response

    async def get(self, url: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return await self.request("GET", url, headers, **kw)

    async def post(self, url: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return await self.request("POST", url, headers, **kw)

    async def patch(self, url: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return await self.request("PATCH", url, headers, **kw)

    async def delete(self, url: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return await self.request("DELETE", url, headers, **kw)

    # -- small factories over the API ----------------------------------------------------------
    async def institution(self, uscc: str, **kw: Any) -> dict[str, Any]:
        body = {
            "uscc": uscc,
            "name": kw.pop("name", f"机构{uscc[-6:]}"),
            "ownership": "private",
            "sector": "bank",
            "party_org_status": "established_complete",
            "reporting_level": "L2",
            **kw,
        }
        r = await self.post("/api/v1/institutions", self.secretariat, json=body)
        assert r.status_code == 201, r.text
        return r.json()

    async def organization(self, institution_id: str, name: str = "第一党支部", **kw: Any) -> dict[str, Any]:
        body = {"name": name, "kind": "branch", "institution_ids": [institution_id], **kw}
        r = await self.post("/api/v1/organizations", self.secretariat, json=body)
        assert r.status_code == 201, r.text
        return r.json()

    async def member(self, organization_id: str, id_number: str, **kw: Any) -> dict[str, Any]:
        body = {
            "organization_id": organization_id,
            "name": "张三",
            "id_number": id_number,
            "phone": "13812345678",
            "status": "full",
            "joined_at": "2015-07-01",
            **kw,
        }
        r = await self.post("/api/v1/members", self.secretariat, json=body)
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture
async def app(settings, clock):
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application
    client = connect(settings.mongodb_uri)
    await client.drop_database(settings.database_name)
    await client.close()


@pytest.fixture
async def api(app, settings) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
        yield Api(client, settings, app)


@pytest.fixture
async def topic(infra, settings) -> AsyncIterator[TopicReader]:
    name = settings.kafka_topic_prefix + REGISTRY_EVENTS
    await asyncio.to_thread(create_topics, infra.kafka_bootstrap_servers, [name], TOPICS[REGISTRY_EVENTS])
    async with TopicReader(infra.kafka_bootstrap_servers, name) as reader:
        yield reader


@pytest.fixture
def valid():
    """Asserts an event's data against its published JSON Schema."""
    return assert_valid
