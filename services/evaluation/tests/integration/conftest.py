"""A running evaluation service on the real broker and store, per test module: fresh topic prefix
and database, a FixedClock, an HTTP client, and a publisher standing in for the other services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from alliance_evaluation.app import create_app
from alliance_evaluation.settings import EvaluationSettings
from alliance_evaluation.usecases import scoring
from alliance_evaluation.usecases.unit import EvaluationUnit
from alliance_shared.auth import mint_token
from alliance_shared.clock import FixedClock
from alliance_shared.contracts import activity as act
from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import all_topics
from alliance_shared.kafka.producer import EventPublisher
from alliance_shared.testing import at, namespace, wait_for


@dataclass
class Service:
    settings: EvaluationSettings
    clock: FixedClock
    client: httpx.AsyncClient
    publisher: EventPublisher
    app: Any
    published: int = 0
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def ev(self) -> EvaluationUnit:
        ev: EvaluationUnit = self.app.state.evaluation
        return ev

    def token(
        self,
        role: str = "secretariat",
        institution_id: str | None = None,
        subject: str = "sec-1",
        organization_id: str | None = None,
    ) -> dict[str, str]:
        token = mint_token(
            self.settings.auth_jwt_secret,
            role=role,
            subject=subject,
            institution_id=institution_id,
            organization_id=organization_id,
        )
        return {"Authorization": f"Bearer {token}"}

    async def publish(self, payload: EventPayload, *, name: str | None = None, **ext: Any) -> CloudEvent:
        event = envelope(payload, source="/tests", **ext)
        await self.publisher.publish(payload.kafka_topic, event, payload.ordering_key())
        self.published += 1
        if name:
            self.ids[name] = event.id
        return event

    async def until_ended(self, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """A job's status URL read until the job has ended (as `headers`, the secretariat's by default)."""
        for _ in range(600):
            job = (await self.client.get(url, headers=headers or self.token())).json()
            if job["state"] not in ("queued", "running"):
                return dict(job)
            await asyncio.sleep(0.05)
        raise AssertionError(f"{url} still running: {job}")

    async def settle(self) -> None:
        """Wait until the service consumed everything published so far, then drain the rescore queue."""
        runner = self.app.state.runtime.runners[0]
        await wait_for(
            lambda: _done(runner.state.handled + runner.state.duplicates >= self.published),
            timeout_s=60,
            what=f"{self.published} events consumed",
        )
        await scoring.rescore_dirty(self.ev)

    # -- event builders standing in for registry and activity ----------------------------
    async def institution(
        self,
        inst_id: str,
        ownership: str = "state_owned",
        level: str = "L2",
        since: date = date(2020, 1, 1),
        name: str = "",
    ) -> None:
        await self.publish(
            reg.InstitutionRegistered(
                institution_id=inst_id,
                uscc="91440300MA5XXXXXX0",
                name=name or f"机构{inst_id}",
                classification=_cls(ownership, level),
                effective_from=since,
            )
        )

    async def reclassify(self, inst_id: str, old: str, new: str, since: date, level: str = "L2") -> None:
        await self.publish(
            reg.InstitutionReclassified(
                institution_id=inst_id,
                classification=_cls(new, level),
                previous=_cls(old, level),
                effective_from=since,
            )
        )

    async def branch(
        self, org_id: str, inst_ids: list[str], kind: str = "branch", since: date = date(2020, 1, 1)
    ) -> None:
        await self.publish(
            reg.OrganizationOpened(
                organization_id=org_id,
                institution_id=inst_ids[0],
                institution_ids=inst_ids,
                name=f"支部{org_id}",
                kind=kind,
                established_at=since,
            )
        )

    async def member(
        self, member_id: str, org_id: str, inst_id: str, since: date = date(2025, 1, 1), pocket: bool = False
    ) -> None:
        await self.publish(
            reg.MemberRegistered(
                member_id=member_id,
                organization_id=org_id,
                institution_id=inst_id,
                status="full",
                joined_at=since,
                pocket=pocket,
            )
        )

    async def meeting(
        self,
        org_id: str,
        inst_id: str,
        kind: str,
        held: datetime,
        attendees: list[str],
        expected: int,
        received: datetime,
        name: str | None = None,
        **ext: Any,
    ) -> CloudEvent:
        return await self.publish(
            act.MeetingHeld(
                organization_id=org_id,
                meeting_kind=kind,
                held_at=held,
                attendee_ids=attendees,
                expected_count=expected,
                topic="学习",
            ),
            name=name,
            institutionid=inst_id,
            reportinglevel="L2",
            channel="batch",
            receivedat=received,
            **ext,
        )


def _cls(ownership: str, level: str) -> reg.InstitutionClassification:
    return reg.InstitutionClassification(
        ownership=ownership, party_org_status="established_complete", reporting_level=level, sector="bank"
    )


async def _done(value: bool) -> bool:
    return value


@pytest.fixture(scope="module")
async def service(infra: Any) -> AsyncIterator[Service]:
    ns = namespace("eval")
    settings = EvaluationSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        kafka_topic_prefix=f"{ns}.",
        mongodb_database=ns.replace("-", "_"),
        environment="test",
    )
    from alliance_localinfra import create_topics

    await asyncio.to_thread(
        create_topics,
        settings.kafka_bootstrap_servers,
        [settings.kafka_topic_prefix + t for t in all_topics()],
        1,
    )
    clock = FixedClock(at(2026, 10, 12))
    app = create_app(settings, clock=clock, background=False)
    publisher = EventPublisher(settings.kafka_bootstrap_servers, topic_prefix=settings.kafka_topic_prefix)
    await publisher.start()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://evaluation") as client:
            yield Service(settings, clock, client, publisher, app)
        await app.state.runtime.mongo.drop_database(settings.database_name)  # leave the shared store clean
    await publisher.stop()
