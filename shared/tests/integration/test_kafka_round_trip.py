"""The shared producer and consumer runner against the real broker."""

import asyncio
from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaConnectionError
from alliance_shared.contracts.activity import MeetingHeld
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import ACTIVITY_EVENTS, dlq
from alliance_shared.kafka.consumer import (
    ConsumedMessage,
    ConsumerPolicy,
    ConsumerRunner,
    EventDispatch,
    PermanentError,
)
from alliance_shared.mongo import MongoDedupeStore
from alliance_shared.runtime import ConsumerSpec, Runtime
from alliance_shared.settings import ServiceSettings
from alliance_shared.telemetry import setup_tracing
from alliance_shared.testing import OutageProxy, TopicReader, wait_for
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect

pytestmark = pytest.mark.integration

exporter = InMemorySpanExporter()
setup_tracing("shared-tests", extra_processors=[SimpleSpanProcessor(exporter)])


def meeting_event(org: str = "org-1", **ext: object) -> CloudEvent:
    payload = MeetingHeld(organization_id=org, meeting_kind="party_lesson",
                          held_at=datetime(2026, 9, 1, 1, 0, tzinfo=UTC), attendee_ids=["m1"],
                          expected_count=2, topic="党课")
    return envelope(payload, source="/tests", **{"institutionid": "inst-1", "reportinglevel": "L3", **ext})


async def run_until(runner: ConsumerRunner, done) -> None:
    task = asyncio.create_task(runner.run())
    try:
        await wait_for(done, timeout_s=30, what="the consumer to catch up")
    finally:
        runner.stop()
        await asyncio.wait_for(task, timeout=15)


async def test_an_event_crosses_kafka_with_its_headers_key_and_trace_context(infra, publisher, ns):
    received: list[tuple[CloudEvent, ConsumedMessage]] = []

    async def handler(event: CloudEvent, message: ConsumedMessage) -> None:
        received.append((event, message))

    event = meeting_event(channel="stream", flags="no_attendees")
    with trace.get_tracer("test").start_as_current_span("http request") as root:
        await publisher.publish(ACTIVITY_EVENTS, event, key="org-1")
    runner = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                            topics=[ACTIVITY_EVENTS], handler=handler, publisher=publisher)
    await run_until(runner, lambda: _true(received))

    got, message = received[0]
    assert got == event
    assert message.key == b"org-1"
    headers = dict(message.headers)
    assert headers["ce_type"] == b"fpba.meeting.held.v1" and headers["ce_institutionid"] == b"inst-1"
    trace_id = format(root.get_span_context().trace_id, "032x")
    assert headers["traceparent"].decode().split("-")[1] == trace_id
    consumer_spans = [s for s in exporter.get_finished_spans() if s.name == f"{ACTIVITY_EVENTS} process"]
    assert any(s.context.trace_id == root.get_span_context().trace_id for s in consumer_spans)


async def _true(items) -> bool:
    return bool(items)


async def test_a_listener_for_some_types_passes_over_the_others_undecoded_and_commits_past_them(
        infra, publisher, ns):
    handled: list[str] = []

    async def handler(event: CloudEvent, message: ConsumedMessage) -> None:
        handled.append(event.id)

    wanted = meeting_event("wanted")
    await publisher.send_raw(ACTIVITY_EVENTS, b"not json, and never read", b"same",
                             [("ce_specversion", b"1.0"), ("ce_type", b"fpba.dues.paid.v1")])
    await publisher.publish(ACTIVITY_EVENTS, wanted, key="same")
    await publisher.send_raw(ACTIVITY_EVENTS, b"nor this", b"same", [("ce_type", b"fpba.dues.paid.v1")])
    runner = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                            topics=[ACTIVITY_EVENTS], handler=handler, publisher=publisher,
                            only_types=["fpba.meeting.held.v1"])
    await run_until(runner, lambda: _true(handled))
    assert handled == [wanted.id]
    assert runner.state.dead_lettered == 0 and runner.healthy  # the undecodable ones were never read


async def test_a_poison_message_is_dead_lettered_with_its_error_and_the_rest_still_flow(infra, publisher, ns):
    handled: list[str] = []

    async def handler(event: CloudEvent, message: ConsumedMessage) -> None:
        if event.subject == "explodes":
            raise RuntimeError("handler cannot cope with this branch")
        handled.append(event.id)

    good_before, bad, good_after = meeting_event("a"), meeting_event("explodes"), meeting_event("b")
    await publisher.publish(ACTIVITY_EVENTS, good_before, key="same")
    await publisher.send_raw(ACTIVITY_EVENTS, b"not json at all", b"same", [("ce_specversion", b"1.0")])
    await publisher.publish(ACTIVITY_EVENTS, bad, key="same")
    await publisher.publish(ACTIVITY_EVENTS, good_after, key="same")

    runner = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                            topics=[ACTIVITY_EVENTS], handler=handler, publisher=publisher,
                            policy=ConsumerPolicy(max_attempts=2, backoff_initial_s=0.05))
    async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{dlq(ACTIVITY_EVENTS)}") as dead:
        await run_until(runner, lambda: _true(len(handled) == 2 and len(dead.records) == 2))
        errors = sorted(dict(r.headers)["dlq_error"].decode() for r in dead.records)
    assert handled == [good_before.id, good_after.id]
    assert errors[0].startswith("EnvelopeError") and "data" in errors[0]
    assert errors[1] == "RuntimeError: handler cannot cope with this branch"
    assert runner.state.dead_lettered == 2 and runner.healthy


async def test_a_run_of_poison_messages_from_many_sources_brakes_the_consumer(infra, publisher, ns):
    """What a bad deploy looks like: every institution's messages fail alike."""
    for i in range(4):
        await publisher.send_raw(ACTIVITY_EVENTS, b"{}", f"org-{i}".encode(),
                                 [("ce_specversion", b"1.0"), ("ce_institutionid", f"inst-{i}".encode())])

    async def handler(event: CloudEvent, message: ConsumedMessage) -> None:
        raise AssertionError("never reached")

    runner = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                            topics=[ACTIVITY_EVENTS], handler=handler, publisher=publisher,
                            policy=ConsumerPolicy(brake_after_consecutive_dead_letters=3))
    await asyncio.wait_for(runner.run(), timeout=30)  # returns by itself: it braked
    assert not runner.healthy and "3 messages in a row from 3 or more sources" in (runner.state.stopped_reason or "")


def _runs_alerted(group: str) -> float:
    return REGISTRY.get_sample_value("alliance_dead_letter_runs_total",
                                     {"topic": ACTIVITY_EVENTS, "group": group}) or 0.0


async def test_a_run_of_poison_messages_from_one_source_is_an_alert_and_its_next_good_event_is_handled(
        infra, publisher, ns):
    """One institution producing garbage cannot stop intake: its run is dead-lettered and
    alerted, the consumer stays ready, and the good events after it — its own and others' — are
    handled."""
    for _ in range(7):
        await publisher.send_raw(ACTIVITY_EVENTS, b"{}", b"org-x",
                                 [("ce_specversion", b"1.0"), ("ce_institutionid", b"inst-x")])
    own, other = meeting_event("org-x", institutionid="inst-x"), meeting_event("org-1")
    await publisher.publish(ACTIVITY_EVENTS, own, key="org-x")
    await publisher.publish(ACTIVITY_EVENTS, other, key="org-1")
    handled: list[str] = []

    async def handler(event: CloudEvent, message: ConsumedMessage) -> None:
        handled.append(event.id)

    runner = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                            topics=[ACTIVITY_EVENTS], handler=handler, publisher=publisher,
                            policy=ConsumerPolicy(brake_after_consecutive_dead_letters=3))
    await run_until(runner, lambda: _true(len(handled) == 2))
    assert sorted(handled) == sorted([own.id, other.id])
    assert runner.state.stopped_reason is None and runner.state.dead_lettered == 7
    assert runner.state.noisy_sources == {"institutionid:inst-x": 1}  # one run of 7: alerted once
    assert _runs_alerted(f"{ns}-g") == 1


async def test_redelivered_events_are_applied_once(infra, publisher, db, ns):
    applied: list[str] = []

    async def on_meeting(payload: MeetingHeld, event: CloudEvent) -> None:
        applied.append(event.id)

    dispatch = EventDispatch({MeetingHeld: on_meeting})
    event = meeting_event()
    for _ in range(3):
        await publisher.publish(ACTIVITY_EVENTS, event, key="org-1")
    await publisher.publish(ACTIVITY_EVENTS, meeting_event("sentinel"), key="org-1")
    runner = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                            topics=[ACTIVITY_EVENTS], handler=dispatch, publisher=publisher,
                            dedupe=MongoDedupeStore(db, f"{ns}-g"))
    await run_until(runner, lambda: _true(len(applied) >= 2))
    assert applied.count(event.id) == 1 and runner.state.duplicates == 2


async def test_stopping_finishes_the_in_flight_message_and_commits_it(infra, publisher, ns):
    started, finished = asyncio.Event(), []

    async def slow(event: CloudEvent, message: ConsumedMessage) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.append(event.id)

    first = meeting_event()
    await publisher.publish(ACTIVITY_EVENTS, first, key="k")
    runner = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                            topics=[ACTIVITY_EVENTS], handler=slow, publisher=publisher)
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(started.wait(), timeout=30)
    runner.stop()
    await asyncio.wait_for(task, timeout=15)
    assert finished == [first.id]

    # a second consumer in the same group does not see it again: the offset was committed
    again: list[str] = []

    async def record(event: CloudEvent, message: ConsumedMessage) -> None:
        again.append(event.id)

    second = meeting_event()
    await publisher.publish(ACTIVITY_EVENTS, second, key="k")
    runner2 = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                             topics=[ACTIVITY_EVENTS], handler=record, publisher=publisher)
    await run_until(runner2, lambda: _true(again))
    assert again == [second.id]


async def test_what_handlers_buffer_is_written_at_the_end_of_the_batch_before_its_offsets_commit(infra, publisher, ns):
    """A handler may buffer (one store write per batch); `on_batch_end` writes it. Until it succeeds
    the offsets wait and the events do not count as handled; when it keeps failing and the consumer
    stops, the batch is delivered again to the next consumer of the group."""
    buffered: list[str] = []
    written: list[list[str]] = []
    failures = {"left": 2}

    async def buffer(event: CloudEvent, message: ConsumedMessage) -> None:
        buffered.append(event.id)

    async def write() -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("store unavailable")
        written.append(list(buffered))
        buffered.clear()

    events = [meeting_event() for _ in range(3)]
    for e in events:
        await publisher.publish(ACTIVITY_EVENTS, e, key="k")
    policy = ConsumerPolicy(backoff_initial_s=0.05)
    runner = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                            topics=[ACTIVITY_EVENTS], handler=buffer, publisher=publisher, policy=policy,
                            on_batch_end=write)
    await run_until(runner, lambda: _true(runner.state.handled >= 3))
    assert [i for batch in written for i in batch] == [e.id for e in events]  # after two failed tries
    assert runner.state.handled == 3

    # the end of a batch never succeeds: the consumer stops without committing, the batch comes again
    stuck = meeting_event()
    await publisher.publish(ACTIVITY_EVENTS, stuck, key="k")

    async def never() -> None:
        raise ConnectionError("store unavailable")

    seen: list[str] = []

    async def record(event: CloudEvent, message: ConsumedMessage) -> None:
        seen.append(event.id)

    failing = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                             topics=[ACTIVITY_EVENTS], handler=record, publisher=publisher, policy=policy,
                             on_batch_end=never)
    task = asyncio.create_task(failing.run())
    await wait_for(lambda: _true(seen), timeout_s=30, what="the stuck event handled")
    failing.stop()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(task, timeout=15)
    assert failing.state.handled == 0

    again: list[str] = []

    async def record_again(event: CloudEvent, message: ConsumedMessage) -> None:
        again.append(event.id)

    runner2 = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                             topics=[ACTIVITY_EVENTS], handler=record_again, publisher=publisher)
    await run_until(runner2, lambda: _true(again))
    assert again == [stuck.id]


async def test_a_store_outage_while_consuming_delays_events_and_never_kills_the_consumer(infra, publisher, ns):
    """The store restarts while the consumer has work: its dedupe claims and its handler's writes
    fail for a while. The consumer waits the outage out (not ready meanwhile), then applies every
    event once; nothing is dead-lettered."""
    host, port = infra.mongodb_uri.split("//")[1].rstrip("/").split(":")
    store = OutageProxy(host, int(port))
    await store.up()
    client = AsyncMongoClient(f"mongodb://{store.address}/", tz_aware=True, serverSelectionTimeoutMS=300,
                              connectTimeoutMS=300, socketTimeoutMS=2000)
    db = client[ns.replace("-", "_")]

    async def on_meeting(payload: MeetingHeld, event: CloudEvent) -> None:
        await db.applied.update_one({"_id": event.id}, {"$inc": {"times": 1}}, upsert=True)

    runner = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                            topics=[ACTIVITY_EVENTS], handler=EventDispatch({MeetingHeld: on_meeting}),
                            publisher=publisher, dedupe=MongoDedupeStore(db, f"{ns}-g"),
                            policy=ConsumerPolicy(max_attempts=2, backoff_initial_s=0.05, backoff_max_s=0.2))
    task = asyncio.create_task(runner.run())
    try:
        first = meeting_event()
        await publisher.publish(ACTIVITY_EVENTS, first, key="org-1")
        await wait_for(lambda: _true(runner.state.handled == 1), timeout_s=30, what="the first event")
        await store.down()
        later = [meeting_event() for _ in range(3)]
        for e in later:
            await publisher.publish(ACTIVITY_EVENTS, e, key="org-1")
        await wait_for(lambda: _true(runner.state.waiting_for), timeout_s=30, what="the consumer to wait")
        assert not runner.healthy and not task.done()
        await store.up()
        await wait_for(lambda: _true(runner.state.handled == 4), timeout_s=30, what="the events after the outage")
        assert runner.healthy and not task.done()
        times = {d["_id"]: d["times"] async for d in db.applied.find({})}
        assert times == {e.id: 1 for e in [first, *later]}
        assert runner.state.dead_lettered == 0
    finally:
        runner.stop()
        await asyncio.wait_for(task, timeout=15)
        await client.drop_database(db.name)
        await client.close()
        await store.down()


async def test_a_handler_that_cannot_reach_the_store_is_retried_past_its_attempts_not_dead_lettered(
        infra, publisher, ns):
    calls: list[str] = []

    async def handler(event: CloudEvent, message: ConsumedMessage) -> None:
        calls.append(event.id)
        if len(calls) <= 5:
            raise AutoReconnect("connection reset by the store")

    event = meeting_event()
    await publisher.publish(ACTIVITY_EVENTS, event, key="k")
    runner = ConsumerRunner(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                            topics=[ACTIVITY_EVENTS], handler=handler, publisher=publisher,
                            policy=ConsumerPolicy(max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.05))
    await run_until(runner, lambda: _true(runner.state.handled == 1))
    assert calls == [event.id] * 6 and runner.state.dead_lettered == 0 and runner.healthy


async def test_a_crashed_consumer_is_not_ready_and_the_runtime_starts_it_again(infra, ns):
    """A consumer whose run ends by an error (here: the DLQ cannot be written once) must not
    leave readiness saying all is well; the runtime starts it again and the message is handled."""
    seen: list[str] = []

    async def handler(event: CloudEvent, message: ConsumedMessage) -> None:
        seen.append(event.id)
        raise PermanentError("this event can never be applied")

    settings = ServiceSettings(service_name=f"{ns}-svc", kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
                               mongodb_uri=infra.mongodb_uri, mongodb_database=ns.replace("-", "_"),
                               kafka_topic_prefix=f"{ns}.")
    runtime = Runtime(settings=settings, consumers=[ConsumerSpec(group_id=f"{ns}-g", topics=[ACTIVITY_EVENTS],
                                                                 handler=handler)])
    await runtime.start()
    try:
        send_raw, failures = runtime.bus.send_raw, []

        async def dlq_down_once(*args: object, **kwargs: object) -> None:
            if not failures:
                failures.append(1)
                raise KafkaConnectionError("broker unavailable")
            await send_raw(*args, **kwargs)  # type: ignore[arg-type]

        runtime.bus.send_raw = dlq_down_once  # type: ignore[method-assign]
        readiness: list[bool] = []

        async def watch() -> None:
            while True:
                readiness.append((await runtime.readiness())["consumers"])
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        event = meeting_event()
        async with TopicReader(infra.kafka_bootstrap_servers, f"{ns}.{dlq(ACTIVITY_EVENTS)}") as dead:
            await runtime.bus.publish(ACTIVITY_EVENTS, event, key="k")
            await wait_for(lambda: _true(dead.records), timeout_s=60, what="the event dead-lettered after a restart")
        await wait_for(lambda: _true(readiness[-1]), what="readiness after the restart")
        watcher.cancel()
        runner = runtime.runners[0]
        assert failures and seen == [event.id, event.id] and runner.state.restarts == 1
        assert False in readiness and runner.healthy
    finally:
        await runtime.stop()
        client = AsyncMongoClient(infra.mongodb_uri)
        await client.drop_database(settings.database_name)
        await client.close()
