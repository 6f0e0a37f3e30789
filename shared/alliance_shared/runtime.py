"""What a running service holds: the store, the producer, the outbox relay, its consumers and
background loops. Built by a service's composition root; started and stopped by the app lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from .clock import Clock, SystemClock
from .kafka.consumer import BatchEnd, ConsumerPolicy, ConsumerRunner, Handler
from .kafka.producer import EventPublisher
from .kafka.security import client_security
from .mongo import IndexSpec, MongoDedupeStore, OutboxRelay, connect, ensure_indexes, ping
from .mongo import dedupe as dedupe_marks
from .mongo.outbox import outbox_indexes
from .settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class ConsumerSpec:
    """A consumer a service runs: its group, topics and handler."""

    group_id: str
    topics: Sequence[str]
    handler: Handler
    policy: ConsumerPolicy | None = None
    dedupe: bool = True
    on_batch_end: BatchEnd | None = None  # writes what the handlers buffered, before the commit
    only_types: Sequence[str] | None = None  # other types are passed over undecoded (a listener on a busy topic)


@dataclass
class Runtime:
    """The infrastructure of one service process. Nothing connects until `start()`."""

    settings: ServiceSettings
    clock: Clock = field(default_factory=SystemClock)
    indexes: Sequence[IndexSpec] = ()
    outbox_collections: Sequence[str] = ()
    consumers: Sequence[ConsumerSpec] = ()
    background: Sequence[Callable[[Runtime], Awaitable[None]]] = ()
    start_consumers: bool = True

    mongo: AsyncMongoClient[dict[str, Any]] | None = None
    publisher: EventPublisher | None = None
    relay: OutboxRelay | None = None
    runners: list[ConsumerRunner] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _loops: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def db(self) -> AsyncDatabase[dict[str, Any]]:
        assert self.mongo is not None, "runtime not started"
        return self.mongo[self.settings.database_name]

    @property
    def bus(self) -> EventPublisher:
        assert self.publisher is not None, "runtime not started"
        return self.publisher

    async def start(self) -> None:
        self.mongo = connect(self.settings.mongodb_uri, app_name=self.settings.service_name)
        await ensure_indexes(self.db, [*self.indexes, *outbox_indexes(self.outbox_collections),
                                       *dedupe_marks.INDEXES])
        self.publisher = EventPublisher(self.settings.kafka_bootstrap_servers,
                                        client_id=self.settings.kafka_client_id or self.settings.service_name,
                                        topic_prefix=self.settings.kafka_topic_prefix,
                                        security=client_security(self.settings))
        await self.publisher.start()
        if self.outbox_collections:
            self.relay = OutboxRelay(self.db, self.publisher, self.outbox_collections)
            self._spawn(self.relay.run(), "outbox-relay")
        if self.start_consumers:
            for spec in self.consumers:
                runner = ConsumerRunner(
                    bootstrap_servers=self.settings.kafka_bootstrap_servers, group_id=spec.group_id,
                    topics=spec.topics, handler=spec.handler, publisher=self.publisher,
                    dedupe=MongoDedupeStore(self.db, spec.group_id) if spec.dedupe else None,
                    policy=spec.policy, on_batch_end=spec.on_batch_end, only_types=spec.only_types,
                    security=client_security(self.settings))
                self.runners.append(runner)
                self._spawn(self._supervise(runner), f"consumer:{spec.group_id}")
        loops = list(self.background)
        if self.start_consumers and any(spec.dedupe for spec in self.consumers):
            loops.append(_expire_dedupe_marks)
        for loop in loops:
            self._spawn(loop(self), getattr(loop, "__name__", "background"))
            self._loops.append(self._tasks[-1])

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s crashed", name)

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def _supervise(self, runner: ConsumerRunner) -> None:
        """Run `runner` until it stops or brakes; when it crashes (the store or the broker gone
        longer than its retries, a commit refused), start it again after a growing pause. Until
        it runs again `runner.healthy` is false, so readiness says so."""
        pause = 1.0
        while True:
            try:
                await runner.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if runner.stopping:
                    log.warning("consumer %s ended with an error while stopping", runner.group_id, exc_info=True)
                    return
                log.exception("consumer %s crashed; starting it again in %.0fs", runner.group_id, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30.0)

    def notify_outbox(self, collection: str | None = None) -> None:
        """Call after a write that added outbox events (to `collection`, if named: only it is
        polled), so they are relayed at once."""
        if self.relay is not None:
            self.relay.notify(collection)

    async def stop(self) -> None:
        # background loops (schedules) have nothing in flight worth waiting for: stop them now
        for task in self._loops:
            task.cancel()
        self._loops.clear()
        for runner in self.runners:
            runner.stop()
        if self.relay is not None:
            self.relay.stop()
        if self._tasks:
            # consumers finish their in-flight message; give them a moment before cancelling
            _done, pending = await asyncio.wait(self._tasks, timeout=10)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._tasks.clear()
        if self.publisher is not None:
            await self.publisher.stop()
        if self.mongo is not None:
            await self.mongo.close()

    async def readiness(self) -> dict[str, bool]:
        """Kafka and the store answer, and every consumer is consuming (none braked, crashed or
        stuck on a store command; each given its partitions, and caught up or committing)."""
        return {
            "store": self.mongo is not None and await ping(self.db),
            "kafka": self.publisher is not None and await self.publisher.ready(),
            "consumers": all(r.ready for r in self.runners),
        }


async def _expire_dedupe_marks(rt: Runtime) -> None:
    retention = timedelta(days=rt.settings.dedupe_retention_days)
    await every(3600, lambda: dedupe_marks.expire_marks(rt.db, retention), name="dedupe-expiry")


async def every(interval_s: float, action: Callable[[], Awaitable[Any]], *, name: str) -> None:
    """Run `action` every `interval_s` seconds forever; a failing run is logged, not fatal."""
    while True:
        try:
            await action()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("periodic task %s failed", name)
        await asyncio.sleep(interval_s)
