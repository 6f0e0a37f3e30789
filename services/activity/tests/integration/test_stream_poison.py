"""One institution producing bad messages to the L3 topic cannot take the service out: its run is
dead-lettered and alerted, readiness stays true (the L2 API and webhooks stay in the load
balancer), and the next good events — its own and others' — are ingested (issue 17 item 2)."""

from __future__ import annotations

import pytest
from alliance_shared.contracts.topics import ACTIVITY_INGEST
from alliance_shared.testing import wait_for

from .conftest import Platform, meeting_event
from .test_channels import produce_l3

pytestmark = pytest.mark.integration


async def test_a_run_of_60_bad_messages_from_one_institution_leaves_intake_and_readiness_alone(
    platform: Platform,
) -> None:
    for i in range(60):
        await platform.publisher.send_raw(ACTIVITY_INGEST, b'{"not": "an event"}', b"org-b",
                                          [("ce_specversion", b"1.0"), ("ce_institutionid", b"inst-b"),
                                           ("ce_id", f"bad-{i}".encode())])
    await produce_l3(platform, [meeting_event("good-b", org="org-b", attendees=("m-b",))], institution="inst-b")
    await produce_l3(platform, [meeting_event("good-a")], institution="inst-a")

    async def both_ingested() -> bool:
        return await platform.db["submissions"].count_documents({"status": "accepted"}) == 2

    await wait_for(both_ingested, timeout_s=60, what="the good events after the bad run")
    [ingest] = [r for r in platform.runtime.runners if r.group_id == platform.settings.ingest_group]
    assert ingest.state.dead_lettered == 60 and ingest.state.noisy_sources == {"institutionid:inst-b": 1}
    ready = await platform.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["consumers"] is True
