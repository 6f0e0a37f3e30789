"""Evaluation keeps no dedupe marks (two store commands per event on a store that runs one command
at a time): every handler is idempotent per event id. Kafka redelivers a batch after a crash
between handling and committing; here every kind of event arrives twice and counts once."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from alliance_shared.contracts import notification as note
from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.catalog import envelope

from .conftest import at

pytestmark = pytest.mark.integration


async def twice(s: Any, payload: Any, **ext: Any) -> None:
    event = envelope(payload, source="/tests", **ext)
    for _ in range(2):
        await s.publisher.publish(payload.kafka_topic, event, payload.ordering_key())
        s.published += 1


async def test_every_event_delivered_twice_counts_once(service: Any):
    s = service
    assert s.app.state.runtime.runners[0]._dedupe is None  # no marks: the handlers carry it
    await twice(
        s,
        reg.InstitutionRegistered(
            institution_id="r1",
            uscc="91440300MA5XXXXXX0",
            name="重投银行",
            classification=reg.InstitutionClassification(
                ownership="state_owned", party_org_status="established_complete", reporting_level="L2", sector="bank"
            ),
            effective_from=date(2020, 1, 1),
        ),
    )
    await twice(
        s,
        reg.OrganizationOpened(
            organization_id="r1-b",
            institution_id="r1",
            institution_ids=["r1"],
            name="重投支部",
            kind="branch",
            established_at=date(2020, 1, 1),
        ),
    )
    for m in ("r1-m1", "r1-m2"):
        await twice(
            s,
            reg.MemberRegistered(
                member_id=m, organization_id="r1-b", institution_id="r1", status="full", joined_at=date(2025, 1, 1)
            ),
        )
    meeting = await s.meeting(
        "r1-b", "r1", "theme_party_day", at(2026, 10, 9), ["r1-m1"], 2, at(2026, 10, 10), name="day"
    )
    await s.publisher.publish("activity.events.v1", meeting, "r1-b")  # the same event again
    s.published += 1
    delivery = note.DeliveryStatusChanged(
        delivery_id="r1-d1",
        rule="lagging",
        step="first",
        organization_id="r1-b",
        institution_id="r1",
        channel="email",
        status="sent",
        attempt=1,
        recipient_masked="w***@example.cn",
        at=at(2026, 10, 11),
    )
    await twice(s, delivery)
    await s.settle()

    card = (await s.client.get("/api/v1/periods/2026-Q4/institutions/r1", headers=s.token())).json()
    assert card["members"] == 2
    branch = (await s.client.get("/api/v1/periods/2026-Q4/organizations/r1-b", headers=s.token())).json()
    org_life = next(i for i in branch["breakdown"] if i["indicator"] == "org_life")
    assert org_life["evidence"].count(s.ids["day"]) == 1
    db = s.ev.models.db
    assert await db.activities.count_documents({"_id": s.ids["day"]}) == 1
    inst = await db.institutions.find_one({"_id": "r1"})
    assert len(inst["classes"]) == 1
    member = await db.members.find_one({"_id": "r1-m1"})
    assert len(member["changes"]) == 1
    history = (await db.deliveries.find_one({"_id": "r1-d1"}))["history"]
    assert [h["status"] for h in history] == ["sent"]
