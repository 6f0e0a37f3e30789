"""Readiness tells the consumer's real state (issue 17, the fault campaign's trials 16–18: a service
answered ready for 37–53 s after a restart while its consumer had a backlog and committed nothing):
ready only once the group has given the consumer its partitions and it is caught up or committing,
and `alliance_consumer_lag` counts from the committed offsets, also while a handler hangs."""

import asyncio
from datetime import UTC, datetime

import pytest
from alliance_shared.contracts.activity import MeetingHeld
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import ACTIVITY_EVENTS
from alliance_shared.kafka.consumer import ConsumedMessage, ConsumerPolicy, ConsumerRunner
from alliance_shared.runtime import ConsumerSpec, Runtime
from alliance_shared.settings import ServiceSettings
from alliance_shared.testing import wait_for
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.integration

BACKLOG = 30


def meeting_event(org: str) -> CloudEvent:
    payload = MeetingHeld(organization_id=org, meeting_kind="party_lesson",
                          held_at=datetime(2026, 9, 1, 1, 0, tzinfo=UTC), attendee_ids=["m1"],
                          expected_count=2, topic="党课")
    return envelope(payload, source="/tests", institutionid="inst-1", reportinglevel="L3")


def lag(group: str) -> float:
    """`alliance_consumer_lag` summed over the group's partitions."""
    return sum(
        sample.value
        for metric in REGISTRY.collect() if metric.name == "alliance_consumer_lag"
        for sample in metric.samples if sample.labels.get("group") == group
    )


async def test_a_consumer_started_on_a_backlog_is_ready_only_once_it_commits_and_not_while_a_handler_hangs(
        infra, publisher, ns):
    open_ = asyncio.Event()
    handled: list[str] = []

    async def handler(event: CloudEvent, message: ConsumedMessage) -> None:
        await open_.wait()  # the handler hangs until the test lets it go
        handled.append(event.id)

    for n in range(BACKLOG):  # the backlog a restarted service finds
        await publisher.publish(ACTIVITY_EVENTS, meeting_event(f"org-{n % 3}"), key=f"org-{n % 3}")
    group = f"{ns}-g"
    settings = ServiceSettings(service_name=f"{ns}-svc", kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
                               mongodb_uri=infra.mongodb_uri, mongodb_database=ns.replace("-", "_"),
                               kafka_topic_prefix=f"{ns}.")
    policy = ConsumerPolicy(stall_s=1.5, batch_max_records=10)
    runtime = Runtime(settings=settings, consumers=[
        ConsumerSpec(group_id=group, topics=[ACTIVITY_EVENTS], handler=handler, policy=policy, dedupe=False)])
    readiness: list[bool] = []

    async def watch() -> None:
        while True:
            readiness.append((await runtime.readiness())["consumers"])
            await asyncio.sleep(0.1)

    await runtime.start()
    watcher = asyncio.create_task(watch())
    try:
        runner = runtime.runners[0]
        await wait_for(lambda: _true(lag(group) == BACKLOG), timeout_s=30, what="the backlog in the lag metric")
        await asyncio.sleep(policy.stall_s + 1.0)  # the handler hangs on the first event: nothing is committed
        stalled = list(readiness)
        assert runner.healthy and not handled  # running, not crashed: what readiness said before
        assert stalled and not any(stalled), "ready with a backlog and nothing committed"

        open_.set()
        await wait_for(lambda: _true(len(handled) == BACKLOG), timeout_s=30, what="the backlog handled")
        await wait_for(lambda: _true(readiness and readiness[-1]), timeout_s=10, what="ready once caught up")
        await wait_for(lambda: _true(lag(group) == 0), timeout_s=10, what="no lag once committed")

        # caught up and ready; then one more event whose handler hangs: not ready within the stall
        open_.clear()
        await publisher.publish(ACTIVITY_EVENTS, meeting_event("org-late"), key="org-late")
        await wait_for(lambda: _true(lag(group) == 1), timeout_s=10, what="the hung event in the lag metric")
        await wait_for(lambda: _true(not readiness[-1]), timeout_s=policy.stall_s + 5,
                       what="not ready while the handler hangs")
        open_.set()
        await wait_for(lambda: _true(readiness[-1] and lag(group) == 0), timeout_s=10,
                       what="ready again once it committed")
    finally:
        watcher.cancel()
        open_.set()
        await runtime.stop()
        client = AsyncMongoClient(infra.mongodb_uri)
        await client.drop_database(settings.database_name)
        await client.close()


async def test_the_lag_counts_from_the_newest_commit_when_a_commit_lands_while_the_start_is_being_read(
        infra, publisher, ns):
    """The lag watcher reads a newly assigned partition's committed offset once; a commit the loop
    made while that read was in flight must win over what the read returned (CI once waited 150 s
    on a lag of 6 that the consumer had long committed: overwritten by the older read, it stood
    until the partition's next commit, which never came)."""
    for _ in range(BACKLOG):  # one key: one partition, which the read and the commit race on
        await publisher.publish(ACTIVITY_EVENTS, meeting_event("org-1"), key="org-1")
    target: list[int] = []  # the partition the events are on, as the handler first sees it
    known, read_begun, committed_all = asyncio.Event(), asyncio.Event(), asyncio.Event()

    class SlowStartRead(ConsumerRunner):
        async def _start_of(self, tp):  # type: ignore[no-untyped-def]
            await known.wait()  # the watcher's first read waits until the events' partition is known
            start = await super()._start_of(tp)
            if tp.partition == target[0]:
                read_begun.set()  # read before anything is committed ...
                await committed_all.wait()  # ... and answered after the loop committed the backlog
            return start

        async def _commit(self, offsets):  # type: ignore[no-untyped-def]
            await super()._commit(offsets)
            if sum(self._committed.values()) >= BACKLOG:
                committed_all.set()

    handled: list[str] = []

    async def handler(event: CloudEvent, message: ConsumedMessage) -> None:
        if not target:
            target.append(message.partition)
            known.set()
            await read_begun.wait()
        handled.append(event.id)

    runner = SlowStartRead(bootstrap_servers=infra.kafka_bootstrap_servers, group_id=f"{ns}-g",
                           topics=[ACTIVITY_EVENTS], handler=handler, publisher=publisher)
    task = asyncio.create_task(runner.run())
    try:
        await wait_for(lambda: _true(committed_all.is_set()), timeout_s=30, what="the backlog committed")
        assert len(handled) == BACKLOG
        await wait_for(lambda: _true(runner.lag() == 0 and lag(f"{ns}-g") == 0), timeout_s=10,
                       what="no lag once the start's read has answered")
        await asyncio.sleep(1.5)  # a watcher round after the read: the stale offset would be in by now
        assert runner.lag() == 0 and lag(f"{ns}-g") == 0
    finally:
        runner.stop()
        known.set(), read_begun.set(), committed_all.set()
        await asyncio.wait_for(task, timeout=30)


async def _true(value: object) -> bool:
    return bool(value)
