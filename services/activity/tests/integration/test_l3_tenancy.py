"""L3 tenancy on the real broker (issue 17 defect 10): a record on activity.ingest.v1 claiming
institution A but signed by institution B is refused — dead-lettered with the reason and counted —
and never ingested, nor is an unsigned one; A's own record is ingested as its key."""

from __future__ import annotations

from typing import Any

import pytest
from alliance_activity.entrypoints.streaming import L3_REFUSED
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import ACTIVITY_INGEST, dlq
from alliance_shared.kafka.producer import Outgoing
from alliance_shared.testing import wait_for

from .conftest import Platform, meeting_event
from .test_channels import produce_l3

pytestmark = pytest.mark.integration


def refused(reason: str) -> float:
    return L3_REFUSED.labels(reason)._value.get()  # type: ignore[attr-defined, no-any-return]


async def test_a_record_claiming_a_from_b_is_dead_lettered_and_a_from_a_is_ingested(platform: Platform) -> None:
    assert platform.settings.principal_check_enabled
    mismatches, unsigned = refused("principal_mismatch"), refused("no_principal")
    await produce_l3(platform, [meeting_event("b-as-a")], institution="inst-a", key_of="inst-b")
    plain = CloudEvent.from_structured(meeting_event("unsigned-a")).with_extensions(institutionid="inst-a")
    await platform.publisher.publish_many([Outgoing(ACTIVITY_INGEST, plain, "org-a")])
    await produce_l3(platform, [meeting_event("a-as-a")], institution="inst-a")

    async def ingested() -> bool:
        return await platform.db["submissions"].count_documents({"_id": "a-as-a", "status": "accepted"}) == 1

    await wait_for(ingested, timeout_s=60, what="A's own record")
    async with platform.reader(dlq(ACTIVITY_INGEST)) as dead:
        letters = await wait_for(lambda: _two(dead.records), timeout_s=30, what="two dead letters")
    reasons = {dict(r.headers)["ce_id"].decode(): dict(r.headers)["dlq_error"].decode() for r in letters}
    assert set(reasons) == {"b-as-a", "unsigned-a"}
    assert "ce_institutionid" in reasons["b-as-a"] and "inst-b" in reasons["b-as-a"], reasons
    assert "alliance_signature" in reasons["unsigned-a"], reasons
    assert refused("principal_mismatch") == mismatches + 1 and refused("no_principal") == unsigned + 1
    assert await platform.db["submissions"].count_documents({"_id": {"$in": ["b-as-a", "unsigned-a"]}}) == 0
    stored = await platform.db["submissions"].find_one({"_id": "a-as-a"})
    assert stored is not None and platform.key_ids["inst-a"] in str(stored)  # filed by A's key
    metrics = await platform.client.get("/metrics")
    assert 'alliance_activity_l3_refused_total{reason="principal_mismatch"}' in metrics.text


async def _two(records: list[Any]) -> list[Any] | None:
    return records if len(records) >= 2 else None
