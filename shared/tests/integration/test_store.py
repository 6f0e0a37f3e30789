"""The store helpers against the real store: indexes, the single-document outbox and its relay,
optimistic versioning."""

import asyncio
from typing import Any

import pytest
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.registry import OrganizationClosed
from alliance_shared.contracts.topics import REGISTRY_EVENTS
from alliance_shared.kafka.consumer import ConsumerRunner, EventDispatch
from alliance_shared.mongo import (
    IndexSpec,
    MongoDedupeStore,
    OutboxRelay,
    VersionConflict,
    ensure_indexes,
    is_duplicate_key,
    outbox_fields,
    outbox_push,
    update_versioned,
)
from alliance_shared.testing import TopicReader, wait_for
from pymongo import AsyncMongoClient, monitoring

pytestmark = pytest.mark.integration


async def test_a_unique_index_violation_surfaces_as_a_duplicate_key(db):
    await ensure_indexes(db, [IndexSpec("institutions", [("uscc", 1)], unique=True)])
    await ensure_indexes(db, [IndexSpec("institutions", [("uscc", 1)], unique=True)])  # idempotent
    await db.institutions.insert_one({"uscc": "91440300MA5FXXXX1", "name": "甲"})
    with pytest.raises(Exception) as err:
        await db.institutions.insert_one({"uscc": "91440300MA5FXXXX1", "name": "乙"})
    assert is_duplicate_key(err.value)
    assert await db.institutions.count_documents({}) == 1


def closed(org: str) -> tuple[OrganizationClosed, object]:
    payload = OrganizationClosed(organization_id=org, institution_id="inst-1", closed_at="2026-09-30")
    return payload, envelope(payload, source="/registry")


async def test_an_event_written_with_its_state_change_is_published_after_a_relay_crash(infra, publisher, db, ns):
    payload, event = closed("org-1")
    # the state change and its event in one document operation ...
    await db.organizations.insert_one({"_id": "org-1", "status": "closed", **outbox_fields([(payload, event)])})
    # ... and the relay dies before publishing (it never ran). A new relay starts:
    async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
        relay = OutboxRelay(db, publisher, ["organizations"], interval_s=0.1)
        task = asyncio.create_task(relay.run())
        got = await topic.wait_for_events(1)
        relay.stop()
        await task
    assert got[0].id == event.id and got[0].type == "fpba.organization.closed.v1"
    doc = await db.organizations.find_one({"_id": "org-1"})
    assert doc["outbox"] == [] and doc["outbox_pending"] is False and doc["status"] == "closed"


async def test_an_event_published_twice_by_a_relay_is_applied_once(infra, publisher, db, ns):
    payload, event = closed("org-2")
    await db.organizations.insert_one({"_id": "org-2", **outbox_fields([(payload, event)])})
    relay = OutboxRelay(db, publisher, ["organizations"])
    await relay.relay_pending()
    # a crash between publish and clear: the entry comes back and is published again
    await db.organizations.update_one({"_id": "org-2"}, outbox_push({}, [(payload, event)]))
    assert await relay.relay_pending() == 1

    applied: list[str] = []

    async def on_closed(p: OrganizationClosed, e) -> None:
        applied.append(e.id)

    runner = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                            topics=[REGISTRY_EVENTS], handler=EventDispatch({OrganizationClosed: on_closed}),
                            publisher=publisher, dedupe=MongoDedupeStore(db, f"{ns}-g"))
    task = asyncio.create_task(runner.run())

    async def both_seen() -> bool:
        return runner.state.handled + runner.state.duplicates >= 2

    await wait_for(both_seen, timeout_s=30)
    runner.stop()
    await task
    assert applied == [event.id]


async def test_concurrent_versioned_updates_cannot_both_win(db):
    await db.cases.insert_one({"_id": "c1", "version": 0, "note": ""})
    first = update_versioned(db.cases, "c1", 0, {"$set": {"note": "contacted"}})
    second = update_versioned(db.cases, "c1", 0, {"$set": {"note": "promised date"}})
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert sum(isinstance(r, VersionConflict) for r in results) == 1
    doc = await db.cases.find_one({"_id": "c1"})
    assert doc["version"] == 1 and doc["note"] in ("contacted", "promised date")


async def test_dedupe_marks_expire_on_demand(db):
    store = MongoDedupeStore(db, "g")
    await store.mark("e1")
    await store.mark("e1")  # marking twice is harmless
    assert await store.seen("e1") and not await store.seen("e2")
    from datetime import timedelta

    assert await store.expire(timedelta(seconds=-1)) == 1
    assert not await store.seen("e1")


async def test_a_named_document_is_relayed_at_once_without_waiting_for_the_full_scan(infra, publisher, db, ns):
    relay = OutboxRelay(db, publisher, ["organizations"], interval_s=300)  # no scan within the test
    task = asyncio.create_task(relay.run())
    async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
        await wait_for(lambda: _passes(relay), what="the start-up scan")
        payload, event = closed("org-3")
        await db.organizations.insert_one({"_id": "org-3", **outbox_fields([(payload, event)])})
        relay.notify("organizations", "org-3")
        got = await topic.wait_for_events(1, timeout_s=10)
    relay.stop()
    await task
    assert [e.id for e in got] == [event.id]
    doc = await db.organizations.find_one({"_id": "org-3"})
    assert doc["outbox"] == [] and doc["outbox_pending"] is False


class StoreCommands(monitoring.CommandListener):
    """Every command a client sends, by name, with its filters."""

    def __init__(self) -> None:
        self.filters: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        cmd = event.command
        if event.command_name in ("find", "findAndModify"):
            self.filters.append((event.command_name, dict(cmd.get("filter") or cmd.get("query") or {})))
        elif event.command_name in ("update", "delete"):
            self.filters += [(event.command_name, dict(s["q"])) for s in cmd.get(event.command_name + "s", ())]

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_named_document_costs_the_relay_only_store_commands_by_id(infra, publisher, db, ns):
    """The embedded store reads the whole collection for any filter but `_id` alone (`_id` plus a
    version field included): a relay that cleared each document with such a filter fell minutes
    behind a bulk load of members, and the API keys issued after it waited behind them."""
    commands = StoreCommands()
    client = AsyncMongoClient(infra.mongodb_uri, tz_aware=True, event_listeners=[commands])
    try:
        relay = OutboxRelay(client[db.name], publisher, ["members", "api_keys"])
        entries = {}
        for n in range(5):
            payload, event = closed(f"org-m{n}")
            entries[f"m{n}"] = event.id
            await db.members.insert_one({"_id": f"m{n}", "name": "党员", **outbox_fields([(payload, event)])})
            relay.notify("members", f"m{n}")
        payload, event = closed("org-key")
        await db.api_keys.insert_one({"_id": "k1", **outbox_fields([(payload, event)])})
        relay.notify("api_keys", "k1")
        async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
            assert await relay.relay_hinted() == 6
            got = await topic.wait_for_events(6)
    finally:
        await client.close()
    assert {e.id for e in got} == {*entries.values(), event.id}
    assert commands.filters and all(list(f) == ["_id"] for _, f in commands.filters), commands.filters
    assert [d["outbox"] async for d in db.members.find({})] == [[]] * 5


async def test_an_event_written_while_its_document_is_being_relayed_stays_for_the_next_pass(infra, publisher, db, ns):
    first_payload, first = closed("org-4")
    await db.organizations.insert_one({"_id": "org-4", **outbox_fields([(first_payload, first)])})
    second_payload, second = closed("org-4b")

    class WriteWhilePublishing:  # another request writes the document between the relay's read and its clear
        def __init__(self) -> None:
            self.written = False

        async def enqueue(self, outgoing: Any) -> Any:
            return await publisher.enqueue(outgoing)

        async def acknowledged(self, pending: Any) -> None:
            await publisher.acknowledged(pending)
            if not self.written:
                self.written = True
                await db.organizations.update_one({"_id": "org-4"}, outbox_push({}, [(second_payload, second)]))

    relay = OutboxRelay(db, WriteWhilePublishing(), ["organizations"])  # type: ignore[arg-type]
    async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
        relay.notify("organizations", "org-4")
        assert await relay.relay_hinted() == 1
        doc = await db.organizations.find_one({"_id": "org-4"})
        assert [e["id"] for e in doc["outbox"]] == [second.id] and doc["outbox_pending"] is True
        assert await relay.relay_pending() == 1  # found by the safety net (the writer's notify was lost)
        got = await topic.wait_for_events(2)
    assert [e.id for e in got] == [first.id, second.id]
    doc = await db.organizations.find_one({"_id": "org-4"})
    assert doc["outbox"] == [] and doc["outbox_pending"] is False
    assert await relay.relay_pending() == 0


async def _passes(relay: OutboxRelay) -> bool:
    return not relay._full_scan_due


async def test_an_entry_that_lost_its_flag_in_a_crash_is_relayed_after_the_next_start(infra, publisher, db, ns):
    payload, event = closed("org-5")
    # the relay died between clearing the flag and setting it again for an entry written meanwhile
    await db.organizations.insert_one({"_id": "org-5", **outbox_fields([(payload, event)]), "outbox_pending": False})
    async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
        relay = OutboxRelay(db, publisher, ["organizations"])
        assert await relay.relay_pending() == 1
        got = await topic.wait_for_events(1)
    assert [e.id for e in got] == [event.id]
    doc = await db.organizations.find_one({"_id": "org-5"})
    assert doc["outbox"] == [] and doc["outbox_pending"] is False


async def test_the_safety_net_pass_rests_in_proportion_to_what_it_cost(infra, publisher, db, ns):
    """A full pass that took 0.2 s is followed by the next no sooner than `pace` × 0.2 s later, however
    short `interval_s` is: on the embedded store a pass over a large collection holds every other
    command up, and one every `interval_s` starved the writers."""

    class SlowToAcknowledge:  # a pass costs what its publishing costs, here 0.2 s
        topic_prefix = publisher.topic_prefix

        async def acknowledged(self, pending):
            await asyncio.sleep(0.2)

    def run_for(pace: float) -> tuple[OutboxRelay, list[float]]:
        relay = OutboxRelay(db, SlowToAcknowledge(), ["organizations"], interval_s=0.01, pace=pace)  # type: ignore[arg-type]
        passes: list[float] = []
        full_pass = relay.relay_pending

        async def counted() -> int:
            passes.append(asyncio.get_running_loop().time())
            return await full_pass()

        relay.relay_pending = counted  # type: ignore[method-assign]
        return relay, passes

    for pace, most in ((10.0, 1), (0.0, 4)):
        relay, passes = run_for(pace)
        task = asyncio.create_task(relay.run())
        await asyncio.sleep(1.5)
        relay.stop()
        await task
        if pace:  # 0.2 s of passing, then 2 s of rest: the 1.5 s hold one pass
            assert len(passes) == most, passes
        else:  # unpaced, a pass follows the last one after `interval_s`
            assert len(passes) > most, passes
