"""A lagging branch enters the list, is announced on evaluation.events.v1, reports again and leaves
it with a BranchCaughtUp; near the quarter's end, missing reports are announced once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from alliance_shared.contracts.topics import EVALUATION_EVENTS
from alliance_shared.testing import TopicReader, at

pytestmark = pytest.mark.integration

WAIT = {"wait": "true"}  # the scan's counts, once its job has ended


async def test_a_lagging_branch_enters_the_list_and_leaves_it_when_it_meets_again(service: Any):
    s = service
    s.clock.set(at(2026, 7, 10))
    await s.institution("i9", "private", "L3")
    await s.branch("b9", ["i9"])
    await s.branch("b8", ["i9"])
    await s.member("m91", "b9", "i9")
    await s.meeting("b9", "i9", "theme_party_day", at(2026, 5, 1), ["m91"], 1, at(2026, 5, 1))  # 70 days ago
    await s.meeting("b8", "i9", "theme_party_day", at(2026, 7, 1), [], 1, at(2026, 7, 1))
    await s.settle()
    sec = s.token()
    async with TopicReader(
        s.settings.kafka_bootstrap_servers, s.settings.kafka_topic_prefix + EVALUATION_EVENTS
    ) as topic:
        scan = (await s.client.post("/api/v1/scans/lagging", headers=sec, params=WAIT)).json()
        assert scan["lagging"] == 1 and scan["fell_behind"] == 1
        listed = (await s.client.get("/api/v1/lagging", headers=sec)).json()["items"]
        assert [(i["organization_id"], i["status"], i["days_since_last_meeting"]) for i in listed] == [
            ("b9", "lagging", 70)
        ]
        behind = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.branch.fell_behind.v1")
        assert behind[0].data["organization_id"] == "b9" and behind[0].data["days_since_last_meeting"] == 70
        assert behind[0].data["last_meeting_at"].startswith("2026-05-01T00:00:00+08:00")

        again = (await s.client.post("/api/v1/scans/lagging", headers=sec, params=WAIT)).json()
        assert again["fell_behind"] == 0  # still lagging: no news, no second event

        met = await s.meeting(
            "b9", "i9", "branch_committee_meeting", at(2026, 7, 11), ["m91"], 1, at(2026, 7, 11)
        )
        await s.settle()
        s.clock.advance(timedelta(days=2))
        left = (await s.client.post("/api/v1/scans/lagging", headers=sec, params=WAIT)).json()
        assert left["caught_up"] == 1 and left["lagging"] == 0
        assert (await s.client.get("/api/v1/lagging", headers=sec)).json()["items"] == []
        up = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.branch.caught_up.v1")
        assert up[0].data["meeting_event_id"] == met.id and up[0].data["previous_status"] == "lagging"
        assert len([e for e in topic.events() if e.type == "fpba.branch.fell_behind.v1"]) == 1

        await s.meeting("b9", "i9", "theme_party_day", at(2026, 9, 20), ["m91"], 1, at(2026, 9, 20))
        await s.settle()
        s.clock.set(at(2026, 9, 25))  # a quarter three-quarters gone, and less than 10 days left
        late = (await s.client.post("/api/v1/scans/lagging", headers=sec, params=WAIT)).json()
        assert (late["at_risk"], late["lagging"], late["reports_missing"]) == (1, 1, 2)
        statuses = {
            i["organization_id"]: i["status"]
            for i in (await s.client.get("/api/v1/lagging", headers=sec)).json()["items"]
        }
        assert statuses == {"b9": "at_risk", "b8": "lagging"}
        risk = await topic.wait_for_events(
            1, where=lambda e: e.type == "fpba.branch.fell_behind.v1" and e.data["status"] == "at_risk"
        )
        assert risk[0].data["organization_id"] == "b9" and risk[0].data["org_life_score"] < 60
        missing = await topic.wait_for_events(2, where=lambda e: e.type == "fpba.reports.missing.v1")
        assert "branch_general_meeting" in missing[0].data["missing"]
        once_more = (await s.client.post("/api/v1/scans/lagging", headers=sec, params=WAIT)).json()
        assert once_more["reports_missing"] == 0
