"""The plausibility checks remember across requests, through the store: a member's learning
minutes per day (a correction replaces what it corrects) and reused meeting minutes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alliance_shared.contracts.topics import ACTIVITY_EVENTS

from .conftest import meeting_event

pytestmark = pytest.mark.integration


def learning(event_id: str, minutes: int, **ext: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "/elearning",
        "type": "fpba.learning.completed.v1",
        "time": "2026-10-12T20:00:00+08:00",
        "datacontenttype": "application/json",
        "data": {"member_id": "m-1", "date": "2026-10-12", "minutes": minutes, "course": "党史"},
        **ext,
    }


async def post(platform: Any, *events: dict[str, Any]) -> None:
    answer = await platform.client.post(
        "/api/v1/events",
        headers=platform.key("inst-a") | {"Content-Type": "application/cloudevents-batch+json"},
        content=json.dumps(list(events)),
    )
    assert answer.status_code == 202 and answer.json()["accepted"] == len(events), answer.text


async def test_learning_minutes_and_reused_minutes_are_checked_against_earlier_requests(platform: Any):
    async with platform.reader(ACTIVITY_EVENTS) as reader:
        await post(platform, learning("l-1", 600))
        await post(platform, learning("l-2", 900))  # 1,500 minutes on one day
        await post(platform, learning("l-3", 300, supersedes="l-2"))  # corrected: 900 in all
        await post(platform, learning("l-4", 500))  # 1,400: plausible once l-2 no longer counts
        first = meeting_event("mt-1")
        first["data"]["minutes_hash"] = "sha256:aa11"
        await post(platform, first)
        again = meeting_event("mt-2", held_at="2026-10-13T09:00:00+08:00")
        again["data"]["minutes_hash"] = "sha256:aa11"  # the same minutes for another meeting
        await post(platform, again)
        events = {e.id: e for e in await reader.wait_for_events(6)}
    flags = {event_id: e.flags or "" for event_id, e in events.items()}  # the `flags` extension, comma-separated
    assert flags == {
        "l-1": "",
        "l-2": "learning_over_24h",
        "l-3": "",
        "l-4": "",
        "mt-1": "",
        "mt-2": "minutes_reused",
    }


async def test_the_flags_are_returned_per_event_in_the_answer_and_listed_in_the_submissions(platform: Any):
    first = learning("fl-1", 1000)
    second = learning("fl-2", 1000)  # 2,000 minutes on one day
    answer = await platform.client.post(
        "/api/v1/events",
        headers=platform.key("inst-a") | {"Content-Type": "application/cloudevents-batch+json"},
        content=json.dumps([first, second]),
    )
    body = answer.json()
    assert answer.status_code == 202 and body["accepted"] == 2, answer.text
    assert body["flagged"] == [{"id": "fl-2", "flags": ["learning_over_24h"]}], body
    listed = await platform.client.get(
        "/api/v1/submissions", params={"status": "accepted", "page_size": 500}, headers=platform.key("inst-a")
    )
    assert listed.status_code == 200, listed.text
    flags = {i["id"]: i["flags"] for i in listed.json()["items"] if i["id"] in ("fl-1", "fl-2")}
    assert flags == {"fl-1": [], "fl-2": ["learning_over_24h"]}, flags


async def test_a_meeting_reported_again_at_the_same_time_with_the_same_attendees_is_flagged_a_duplicate(
    platform: Any,
):
    await post(platform, meeting_event("dup-1", attendees=("m-1", "m-2")))
    again = meeting_event("dup-2", attendees=("m-2", "m-1"), held_at="2026-10-12T01:00:00Z")  # the same instant
    answer = await platform.client.post(
        "/api/v1/events",
        headers=platform.key("inst-a") | {"Content-Type": "application/cloudevents-batch+json"},
        content=json.dumps([again, meeting_event("dup-3", attendees=("m-1", "m-2", "m-3"))]),
    )
    body = answer.json()
    assert answer.status_code == 202 and body["accepted"] == 2, answer.text
    assert body["flagged"] == [{"id": "dup-2", "flags": ["duplicate_meeting"]}], body
