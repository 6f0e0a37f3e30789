"""The store helpers against the real store: indexes, the single-document outbox and its relay,
dedupe marks, optimistic versioning."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.registry import OrganizationClosed
from alliance_shared.contracts.topics import REGISTRY_EVENTS
from alliance_shared.kafka.consumer import ConsumerRunner, EventDispatch
from alliance_shared.mongo import (
    Claim,
    IndexSpec,
    MongoDedupeStore,
    OutboxRelay,
    VersionConflict,
    ensure_indexes,
    expire_marks,
    is_duplicate_key,
    outbox_fields,
    outbox_indexes,
    outbox_push,
    update_versioned,
)
from alliance_shared.testing import TopicReader, wait_for
from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import OperationFailure

pytestmark = pytest.mark.integration


async def test_a_unique_index_violation_surfaces_as_a_duplicate_key(db):
    await ensure_indexes(db, [IndexSpec("institutions", [("uscc", 1)], unique=True)])
    await ensure_indexes(db, [IndexSpec("institutions", [("uscc", 1)], unique=True)])  # idempotent
    await db.institutions.insert_one({"uscc": "91440300MA5FXXXX1", "name": "甲"})
    with pytest.raises(Exception) as err:
        await db.institutions.insert_one({"uscc": "91440300MA5FXXXX1", "name": "乙"})
    assert is_duplicate_key(err.value)
    assert await db.institutions.count_documents({}) == 1


async def test_an_update_that_breaks_a_unique_index_is_a_duplicate_key(db):
    """MongoDB answers 11000; the embedded store answers such an update with code 1."""
    await ensure_indexes(db, [IndexSpec("institutions", [("uscc", 1)], unique=True)])
    await db.institutions.insert_many([{"_id": "a", "uscc": "U1"}, {"_id": "b", "uscc": "U2"}])
    for update in (db.institutions.update_one, db.institutions.find_one_and_update):
        with pytest.raises(OperationFailure) as err:
            await update({"_id": "b"}, {"$set": {"uscc": "U1"}})
        assert is_duplicate_key(err.value), err.value.details
    assert not is_duplicate_key(OperationFailure("something else broke", code=1))
    assert await db.institutions.find_one({"_id": "b"}) == {"_id": "b", "uscc": "U2"}


def closed(org: str) -> tuple[OrganizationClosed, object]:
    payload = OrganizationClosed(organization_id=org, institution_id="inst-1", closed_at="2026-09-30")
    return payload, envelope(payload, source="/registry")


async def test_an_event_written_with_its_state_change_is_published_after_a_relay_crash(infra, publisher, db, ns):
    payload, event = closed("org-1")
    # the state change and its event in one document operation ...
    await db.organizations.insert_one({"_id": "org-1", "status": "closed", **outbox_fields([(payload, event)])})
    # ... and the relay dies before publishing (it never ran). A new relay starts:
    async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
        relay = OutboxRelay(db, publisher, ["organizations"], interval_s=300)  # its start-up poll finds it
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


class StoreCommands(monitoring.CommandListener):
    """Every command a client sends, by name, with its filters."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.collections: list[tuple[str, str]] = []  # (command, the collection it names)
        self.filters: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        cmd = event.command
        if event.command_name in ("endSessions", "hello", "isMaster", "ismaster", "ping"):
            return
        self.names.append(event.command_name)
        self.collections.append((event.command_name, str(cmd.get(event.command_name))))
        if event.command_name in ("find", "findAndModify"):
            self.filters.append((event.command_name, dict(cmd.get("filter") or cmd.get("query") or {})))
        elif event.command_name in ("update", "delete"):
            self.filters += [(event.command_name, dict(s["q"])) for s in cmd.get(event.command_name + "s", ())]

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def listened(infra, db, commands: StoreCommands) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(infra.mongodb_uri, tz_aware=True, event_listeners=[commands])


async def test_a_poll_is_one_indexed_find_and_one_update_per_collection(infra, publisher, db, ns):
    """The relay finds pending documents through the marker's index and marks what it sent with
    one update, however many documents it relays."""
    await ensure_indexes(db, outbox_indexes(["members", "api_keys"]))
    entries = []
    for n in range(5):
        payload, event = closed(f"org-m{n}")
        entries.append(event.id)
        await db.members.insert_one({"_id": f"m{n}", "name": "党员", **outbox_fields([(payload, event)])})
    await db.members.insert_one({"_id": "m-quiet", "name": "党员", **outbox_fields([])})
    payload, event = closed("org-key")
    entries.append(event.id)
    await db.api_keys.insert_one({"_id": "k1", **outbox_fields([(payload, event)])})
    commands = StoreCommands()
    client = await listened(infra, db, commands)
    try:
        relay = OutboxRelay(client[db.name], publisher, ["members", "api_keys"])
        async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
            assert await relay.relay_pending() == 6
            got = await topic.wait_for_events(6)
        assert await relay.relay_pending() == 0
    finally:
        await client.close()
    assert sorted(e.id for e in got) == sorted(entries)
    assert commands.names == ["find", "update", "find", "update", "find", "find"], commands.names
    assert all(f == {"outbox_pending": True} for name, f in commands.filters if name == "find")
    assert [(d["outbox"], d["outbox_pending"]) async for d in db.members.find({})] == [([], False)] * 6
    index_keys = [i["key"] for i in (await db.members.index_information()).values()]
    assert [("outbox_pending", 1)] in index_keys


async def test_a_notify_relays_at_once_without_waiting_for_the_interval(infra, publisher, db, ns):
    relay = OutboxRelay(db, publisher, ["organizations"], interval_s=300)  # no timed poll within the test
    task = asyncio.create_task(relay.run())
    async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
        await wait_for(lambda: _polled(relay), what="the start-up poll")
        payload, event = closed("org-3")
        await db.organizations.insert_one({"_id": "org-3", **outbox_fields([(payload, event)])})
        relay.notify()
        got = await topic.wait_for_events(1, timeout_s=10)
        second_payload, second = closed("org-3b")
        await db.organizations.update_one({"_id": "org-3"}, outbox_push({}, [(second_payload, second)]))
        relay.notify()
        got = await topic.wait_for_events(2, timeout_s=10)
    relay.stop()
    await task
    assert [e.id for e in got] == [event.id, second.id]
    doc = await db.organizations.find_one({"_id": "org-3"})
    assert doc["outbox"] == [] and doc["outbox_pending"] is False


async def test_a_notify_naming_its_collection_polls_only_that_one(infra, publisher, db, ns):
    """A write to api_keys wakes a poll of api_keys alone: the members' marker index is not read
    (its entries of relayed documents cost a heap page each until VACUUM); the interval's poll
    still reads every collection."""
    await ensure_indexes(db, outbox_indexes(["members", "api_keys"]))
    commands = StoreCommands()
    client = await listened(infra, db, commands)
    relay = OutboxRelay(client[db.name], publisher, ["members", "api_keys"], interval_s=300)
    task = asyncio.create_task(relay.run())
    try:
        async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
            await wait_for(lambda: _polled(relay), what="the start-up poll")
            started = [c for n, c in commands.collections if n == "find"]
            commands.collections.clear()
            payload, event = closed("org-key")
            await db.api_keys.insert_one({"_id": "k1", **outbox_fields([(payload, event)])})
            relay.notify("api_keys")
            got = await topic.wait_for_events(1, timeout_s=10)
            named = [c for n, c in commands.collections if n == "find"]
            commands.collections.clear()
            payload, event = closed("org-m1")
            await db.members.insert_one({"_id": "m1", **outbox_fields([(payload, event)])})
            relay.notify()
            got = await topic.wait_for_events(2, timeout_s=10)
            unnamed = [c for n, c in commands.collections if n == "find"]
    finally:
        relay.stop()
        await task
        await client.close()
    assert started == ["members", "api_keys"]
    assert named == ["api_keys"]
    assert unnamed == ["members", "api_keys"]
    assert len(got) == 2


async def _polled(relay: OutboxRelay) -> bool:
    return relay.polls > 0


async def test_a_full_batch_is_followed_by_the_next_poll_at_once(infra, publisher, db, ns):
    ids = []
    for n in range(7):
        payload, event = closed(f"org-b{n}")
        ids.append(event.id)
        await db.organizations.insert_one({"_id": f"b{n}", **outbox_fields([(payload, event)])})
    relay = OutboxRelay(db, publisher, ["organizations"], interval_s=300, batch=3)
    async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
        task = asyncio.create_task(relay.run())
        got = await topic.wait_for_events(7, timeout_s=15)
        relay.stop()
        await task
    assert sorted(e.id for e in got) == sorted(ids) and relay.polls >= 3
    assert await db.organizations.count_documents({"outbox_pending": True}) == 0


async def test_a_poll_that_fails_is_retried_and_the_event_still_goes_out(infra, publisher, db, ns):
    payload, event = closed("org-6")
    await db.organizations.insert_one({"_id": "org-6", **outbox_fields([(payload, event)])})

    class BrokerDownOnce:  # the first poll's publish is not acknowledged
        def __init__(self) -> None:
            self.failures = 0

        async def enqueue(self, outgoing: Any, **kw: Any) -> Any:
            return await publisher.enqueue(outgoing, **kw)

        async def acknowledged(self, pending: Any) -> None:
            if not self.failures:
                self.failures += 1
                raise ConnectionError("broker unavailable")
            await publisher.acknowledged(pending)

    flaky = BrokerDownOnce()
    relay = OutboxRelay(db, flaky, ["organizations"], interval_s=0.2)  # type: ignore[arg-type]
    async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
        task = asyncio.create_task(relay.run())
        got = await topic.wait_for_events(1, timeout_s=15)
        await wait_for(lambda: _cleared(db, "org-6"), what="the document cleared")
        relay.stop()
        await task
    assert flaky.failures == 1 and event.id in {e.id for e in got}


async def _cleared(db, doc_id: str) -> bool:
    doc = await db.organizations.find_one({"_id": doc_id})
    return doc is not None and doc["outbox"] == [] and doc["outbox_pending"] is False


async def test_an_event_written_while_its_document_is_being_relayed_stays_for_the_next_poll(infra, publisher, db, ns):
    first_payload, first = closed("org-4")
    await db.organizations.insert_one({"_id": "org-4", **outbox_fields([(first_payload, first)])})
    second_payload, second = closed("org-4b")

    class WriteWhilePublishing:  # another request writes the document between the relay's read and its clear
        def __init__(self) -> None:
            self.written = False

        async def enqueue(self, outgoing: Any, **kw: Any) -> Any:
            return await publisher.enqueue(outgoing, **kw)

        async def acknowledged(self, pending: Any) -> None:
            await publisher.acknowledged(pending)
            if not self.written:
                self.written = True
                await db.organizations.update_one({"_id": "org-4"}, outbox_push({}, [(second_payload, second)]))

    relay = OutboxRelay(db, WriteWhilePublishing(), ["organizations"])  # type: ignore[arg-type]
    async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
        assert await relay.relay_pending() == 1
        doc = await db.organizations.find_one({"_id": "org-4"})
        assert [e["id"] for e in doc["outbox"]] == [second.id] and doc["outbox_pending"] is True
        assert await relay.relay_pending() == 1
        got = await topic.wait_for_events(2)
    assert [e.id for e in got] == [first.id, second.id]
    assert await _cleared(db, "org-4")
    assert await relay.relay_pending() == 0


async def test_a_batch_of_event_ids_is_claimed_in_one_insert_and_the_duplicates_come_back(infra, db):
    commands = StoreCommands()
    client = await listened(infra, db, commands)
    try:
        marks = MongoDedupeStore(client[db.name], "g")
        batch = [Claim(f"e{n}", "t", 0, n) for n in range(100)] + [Claim("e7", "t", 0, 100)]
        assert await marks.claim(batch) == {100}  # the same id twice in one batch: the later one
        assert commands.names[0] == "insert" and commands.names.count("insert") == 1, commands.names
        assert await marks.claim([Claim("e8", "t", 0, 200), Claim("e200", "t", 0, 201)]) == {0}
    finally:
        await client.close()


async def test_a_message_delivered_again_after_a_crash_finds_its_own_claim_and_is_handled(db):
    marks = MongoDedupeStore(db, "g")
    assert await marks.claim([Claim("e1", "t", 3, 40), Claim("e2", "t", 3, 41)]) == set()
    # the consumer died before committing: the same messages come again
    assert await marks.claim([Claim("e1", "t", 3, 40), Claim("e2", "t", 3, 41)]) == set()
    # a republished copy of e1 (another offset) is a duplicate; once released it is not
    assert await marks.claim([Claim("e1", "t", 3, 90)]) == {0}
    await marks.release(["e1"])
    assert await marks.claim([Claim("e1", "t", 3, 91)]) == set()
    # another group has its own marks
    assert await MongoDedupeStore(db, "other").claim([Claim("e2", "t", 3, 95)]) == set()
    # a mark written before marks named their message counts as applied
    await db.processed_events.insert_one({"_id": "g:old", "group": "g", "at": datetime.now(UTC)})
    assert await marks.claim([Claim("old", "t", 3, 99)]) == {0}


async def test_dedupe_marks_expire_by_age(db):
    marks = MongoDedupeStore(db, "g")
    await marks.claim([Claim("e1", "t", 0, 1)])
    ancient = datetime.now(UTC) - timedelta(days=40)
    await db.processed_events.insert_one({"_id": "g:ancient", "group": "g", "at": ancient})
    assert await expire_marks(db, timedelta(days=30)) == 1
    assert await db.processed_events.count_documents({}) == 1
    assert await expire_marks(db, timedelta(seconds=-1)) == 1
    assert await marks.claim([Claim("e1", "t", 0, 5)]) == set()


async def test_a_poll_of_more_documents_than_a_bulk_slice_marks_every_one_sent(infra, publisher, db, ns):
    """60 documents relayed in one poll are every one marked sent."""
    docs = []
    for n in range(60):
        payload, event = closed(f"org-s{n}")
        docs.append({"_id": f"s{n:02d}", **outbox_fields([(payload, event)])})
    await db.organizations.insert_many(docs)
    relay = OutboxRelay(db, publisher, ["organizations"])
    async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{REGISTRY_EVENTS}") as topic:
        assert await asyncio.wait_for(relay.relay_pending(), timeout=30) == 60
        await topic.wait_for_events(60)
    assert await db.organizations.count_documents({"outbox_pending": True}) == 0
