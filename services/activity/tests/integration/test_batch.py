"""The L2 batch of 5,000 and the guarantee behind every 202: accepted events reach Kafka."""

from __future__ import annotations

import asyncio
import contextvars
import json
from datetime import timedelta
from typing import Any

import pytest
from alliance_activity.domain.model import Accepted, Arrival, Reporter
from alliance_shared.contracts.catalog import parse_payload
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import ACTIVITY_EVENTS
from alliance_shared.contracts.vocabulary import Channel
from pymongo import monitoring

from .conftest import Platform, meeting_event, running

pytestmark = pytest.mark.integration


def big_batch(n: int, foreign_every: int = 500) -> list[dict[str, Any]]:
    events = []
    for i in range(n):
        org = "org-b" if i % foreign_every == 0 else "org-a"
        held = f"2026-10-{1 + i % 19:02d}T{8 + i % 10:02d}:{i % 60:02d}:00+08:00"
        events.append(meeting_event(f"big-{i:05d}", org=org, held_at=held))
    return events


async def test_a_batch_of_5000_is_answered_in_one_request_and_every_accepted_event_is_on_the_topic(
    platform: Platform,
) -> None:
    batch = big_batch(5000)
    async with platform.reader(ACTIVITY_EVENTS) as reader:
        answer = await platform.client.post(
            "/api/v1/events",
            content=json.dumps(batch),
            headers=platform.key("inst-a") | {"Content-Type": "application/cloudevents-batch+json"},
        )
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["accepted"] == 4990 and body["duplicates"] == 0 and len(body["rejected"]) == 10
        events = await reader.wait_for_events(4990, timeout_s=60)
    accepted_ids = {e["id"] for e in batch if e["data"]["organization_id"] == "org-a"}
    assert {e.id for e in events} == accepted_ids
    assert await platform.db["submission_batches"].count_documents({"published": False}) == 0


async def test_more_than_5000_events_in_one_batch_is_refused_with_413(platform: Platform) -> None:
    answer = await platform.client.post(
        "/api/v1/events", content=json.dumps(big_batch(5001)), headers=platform.key("inst-a")
    )
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"


async def test_a_submission_stored_but_not_published_before_a_crash_is_published_by_the_relay(
    infra: Any,
) -> None:
    async with running(infra, outbox_grace_s=1.0) as platform, platform.reader(ACTIVITY_EVENTS) as reader:
        # the request path up to its writes, then a "crash" before publishing
        service = platform.client._transport.app.state.activity  # type: ignore[attr-defined]
        event = CloudEvent.from_structured(meeting_event("crash-1")).with_extensions(institutionid="inst-a")
        arrival = Arrival(Channel.BATCH, Reporter("key:x", "inst-a", key_id="x"), platform.clock.now())
        accepted = Accepted(event, parse_payload(event), "org-a", "crash-1", None, {"institution_id": "inst-a"})
        batch = service.submissions.batch()
        service.submissions.add(batch, [accepted], [], arrival)
        await service.submissions.open(batch, arrival.received_at)
        await service.submissions.insert(batch.records)
        platform.clock.advance(timedelta(seconds=5))
        # however old, a batch its request is still publishing is not handed over
        assert await service.submissions.arm_stranded(platform.clock.now()) == 0
        service.submissions.closed(batch)  # the request ended without publishing
        [published] = await reader.wait_for_events(1, timeout_s=30)
        assert published.id == "crash-1"
        again = await platform.client.post(
            "/api/v1/events", json=meeting_event("crash-1"), headers=platform.key("inst-a")
        )
        assert again.json()["duplicates"] == 1


class CommandCount(monitoring.CommandListener):
    """The store commands issued while `counting` is set in the caller's context."""

    counting: contextvars.ContextVar[bool] = contextvars.ContextVar("counting", default=False)

    def __init__(self) -> None:
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.counting.get():
            collection = event.command.get(event.command_name)
            self.commands.append(f"{event.command_name} {collection}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_batch_costs_a_handful_of_store_commands_whatever_its_size(infra: Any) -> None:
    listener = CommandCount()
    monitoring.register(listener)  # for the clients created from here on: the service's
    async with running(infra) as platform:
        headers = platform.key("inst-a") | {"Content-Type": "application/cloudevents-batch+json"}
        first = big_batch(2000)
        again = first[:1000] + big_batch(3000)[2000:]  # 1,000 repeats, 1,000 new
        counts = []
        for body in (first, again):
            listener.commands.clear()
            token = CommandCount.counting.set(True)
            try:
                answer = await platform.client.post("/api/v1/events", content=json.dumps(body), headers=headers)
            finally:
                CommandCount.counting.reset(token)
            assert answer.status_code == 202, answer.text
            counts.append(list(listener.commands))
        assert answer.json()["accepted"] == 998 and answer.json()["duplicates"] == 998
    first_pass, second_pass = counts
    # the key, three projection reads and a count, a marker, one insert, settled
    assert len(first_pass) <= 9, first_pass
    assert sum(c.startswith("insert submissions") for c in first_pass) == 1
    assert len(second_pass) <= 10, "\n".join(second_pass)  # and the owners of the repeats, in one read


async def test_concurrent_requests_share_a_pass_and_each_is_answered_for_its_own_events(infra: Any) -> None:
    """Group commit: 24 requests at once (webhook-sized, two institutions, some refused) cost the
    store commands of a pass or two, not of 24; each answer counts only its own events, and every
    accepted event is on the topic once."""
    listener = CommandCount()
    monitoring.register(listener)
    async with running(infra) as platform, platform.reader(ACTIVITY_EVENTS) as reader:
        bodies, headers = [], []
        for n in range(24):
            inst, org = ("inst-a", "org-a") if n % 2 == 0 else ("inst-b", "org-b")
            attendees = ("m-1", "m-2") if inst == "inst-a" else ("m-b",)
            events = [meeting_event(f"group-{n}-{i}", org=org, attendees=attendees) for i in range(1 + n % 3)]
            if n % 4 == 0:
                events.append(meeting_event(f"group-{n}-foreign", org="org-b"))  # not inst-a's branch
            bodies.append(events)
            headers.append(platform.key(inst) | {"Content-Type": "application/cloudevents-batch+json"})
        token = CommandCount.counting.set(True)
        try:
            answers = await asyncio.gather(
                *(platform.client.post("/api/v1/events", content=json.dumps(b), headers=h)
                  for b, h in zip(bodies, headers, strict=True))
            )
        finally:
            CommandCount.counting.reset(token)
        for n, answer in enumerate(answers):
            assert answer.status_code == 202, answer.text
            got = answer.json()
            assert got["accepted"] == 1 + n % 3, (n, got)
            assert [r["id"] for r in got["rejected"]] == ([f"group-{n}-foreign"] if n % 4 == 0 else [])
        accepted = sum(1 + n % 3 for n in range(24))
        events = await reader.wait_for_events(accepted, timeout_s=60)
        assert sorted(e.id for e in events) == sorted(
            e["id"] for b in bodies for e in b if not e["id"].endswith("foreign")
        )
        assert {e.institutionid for e in events if e.id.startswith("group-1-")} == {"inst-b"}
    inserts = [c for c in listener.commands if c.startswith("insert submissions")]
    assert 1 <= len(inserts) <= 3, listener.commands  # one per pass: the first request's, then the rest
    assert len(listener.commands) <= 3 * 9 + 2, "\n".join(listener.commands)
