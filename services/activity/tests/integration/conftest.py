"""An activity service on the real broker and store, in a fresh namespace, with a small registry
published as registry events (the registry service is not needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from alliance_activity.app import create_app
from alliance_activity.settings import ActivitySettings
from alliance_localinfra import create_topics
from alliance_shared.auth import generate_api_key, hash_api_key, mint_token
from alliance_shared.clock import FixedClock
from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import REGISTRY_EVENTS, TOPICS
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.kafka.producer import EventPublisher
from alliance_shared.pii import PiiVault
from alliance_shared.runtime import Runtime
from alliance_shared.testing import TopicReader, namespace, wait_for

NOW = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)  # 2026-Q4, Asia/Shanghai 10:00
INSTITUTIONS = {"inst-a": "L2", "inst-b": "L1"}
ORGANIZATIONS = {"org-a": "inst-a", "org-b": "inst-b"}
MEMBERS = {"m-1": "org-a", "m-2": "org-a", "m-3": "org-a", "m-b": "org-b"}


@dataclass
class Platform:
    """One running activity service and what a test needs around it."""

    settings: ActivitySettings
    runtime: Runtime
    client: httpx.AsyncClient
    publisher: EventPublisher
    clock: FixedClock
    keys: dict[str, str] = field(default_factory=dict)  # institution -> api key
    key_ids: dict[str, str] = field(default_factory=dict)

    def topic(self, logical: str) -> str:
        return self.settings.kafka_topic_prefix + logical

    def reader(self, logical: str) -> TopicReader:
        return TopicReader(self.settings.kafka_bootstrap_servers, self.topic(logical))

    def key(self, institution: str) -> dict[str, str]:
        return {"X-Api-Key": self.keys[institution]}

    def person(
        self,
        role: Role,
        institution: str | None = None,
        organization: str | None = None,
        subject: str = "person-1",
    ) -> dict[str, str]:
        token = mint_token(
            self.settings.auth_jwt_secret,
            role=role,
            subject=subject,
            institution_id=institution,
            organization_id=organization,
        )
        return {"Authorization": f"Bearer {token}"}

    async def publish_registry(self, *payloads: EventPayload) -> None:
        for p in payloads:
            await self.publisher.publish(REGISTRY_EVENTS, envelope(p, source="/registry"), p.ordering_key())

    @property
    def db(self) -> Any:
        return self.runtime.db


def _classification(level: str) -> reg.InstitutionClassification:
    return reg.InstitutionClassification(
        ownership="state_owned", party_org_status="established_complete", reporting_level=level
    )


async def seed(platform: Platform) -> None:
    """Two institutions, a branch each, members, one live API key each; waits for the projection."""
    vault = PiiVault(platform.settings.pii_encryption_key)
    payloads: list[EventPayload] = []
    for inst, level in INSTITUTIONS.items():
        payloads.append(
            reg.InstitutionRegistered(
                institution_id=inst,
                uscc="91440300MA5DXXXX0X",
                name=inst,
                classification=_classification(level),
                effective_from=date(2020, 1, 1),
            )
        )
        key_id, api_key = generate_api_key()
        platform.keys[inst], platform.key_ids[inst] = api_key, key_id
        payloads.append(
            reg.ApiKeyIssued(
                institution_id=inst,
                key_id=key_id,
                key_hash=hash_api_key(api_key),
                sealed_key=vault.seal(api_key),
                prefix=api_key[:10],
                issued_at=NOW,
            )
        )
    for org, inst in ORGANIZATIONS.items():
        payloads.append(
            reg.OrganizationOpened(
                organization_id=org,
                institution_id=inst,
                institution_ids=[inst],
                name=org,
                kind="branch",
                established_at=date(2020, 1, 1),
            )
        )
    for member, org in MEMBERS.items():
        payloads.append(
            reg.MemberRegistered(
                member_id=member,
                organization_id=org,
                institution_id=ORGANIZATIONS[org],
                status="full",
                joined_at=date(2020, 1, 1),
            )
        )
    await platform.publish_registry(*payloads)

    async def projected() -> bool:
        return (
            await platform.db["members"].count_documents({}) == len(MEMBERS)
            and await platform.db["api_keys"].count_documents({}) == len(INSTITUTIONS)
            and await platform.db["organizations"].count_documents({}) == len(ORGANIZATIONS)
            and await platform.db["institutions"].count_documents({}) == len(INSTITUTIONS)
        )

    await wait_for(projected, timeout_s=30, what="the registry projection")


@asynccontextmanager
async def running(infra: Any, **overrides: Any) -> AsyncIterator[Platform]:
    ns = namespace("act")
    settings = ActivitySettings(
        **{
            "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
            "mongodb_uri": infra.mongodb_uri,
            "kafka_topic_prefix": f"{ns}.",
            "mongodb_database": ns.replace("-", "_"),
            "environment": "test",
            **overrides,
        }
    )
    create_topics(
        settings.kafka_bootstrap_servers,
        [settings.kafka_topic_prefix + t for t in TOPICS] + [f"{ns}.{t}.dlq" for t in TOPICS],
        partitions=3,
    )
    clock = FixedClock(NOW)
    app = create_app(settings, clock=clock)
    publisher = EventPublisher(
        settings.kafka_bootstrap_servers, client_id="activity-tests", topic_prefix=settings.kafka_topic_prefix
    )
    await publisher.start()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://activity.test", timeout=120) as client:
                platform = Platform(settings, app.state.runtime, client, publisher, clock)
                await seed(platform)
                try:
                    yield platform
                finally:
                    await platform.runtime.mongo.drop_database(settings.database_name)  # type: ignore[union-attr]
    finally:
        await publisher.stop()


@pytest.fixture
async def platform(infra: Any) -> AsyncIterator[Platform]:
    async with running(infra) as p:
        yield p


PlatformFactory = Callable[..., Awaitable[Platform]]


def meeting_event(
    event_id: str,
    org: str = "org-a",
    attendees: tuple[str, ...] = ("m-1", "m-2"),
    held_at: str = "2026-10-12T09:00:00+08:00",
    kind: str = "branch_committee_meeting",
    **ext: Any,
) -> dict[str, Any]:
    """A structured-mode CloudEvent as an institution's system would post it."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "/oa/party",
        "type": "fpba.meeting.held.v1",
        "time": "2026-10-12T12:00:00+08:00",
        "datacontenttype": "application/json",
        "data": {
            "organization_id": org,
            "meeting_kind": kind,
            "held_at": held_at,
            "attendee_ids": list(attendees),
            "expected_count": 3,
            "topic": "学习党章",
        },
        **ext,
    }


def canonical(event: CloudEvent) -> dict[str, Any]:
    """What must not depend on the channel."""
    return event.model_dump(
        exclude={"channel", "receivedat", "source", "batchid", "filename", "sourcerow", "filedby"}
    )


SHANGHAI_MEETINGS = [
    ("mtg-1", "2026-10-12T09:00:00+08:00"),
    ("mtg-2", "2026-10-13T15:30:00+08:00"),
    ("mtg-3", "2026-10-14T10:00:00+08:00"),
]
