"""The one way services consume: a runner that commits after handling, skips event ids it has
already applied, retries with backoff, dead-letters what still fails, and brakes on a run of
poison messages.

Delivery semantics: at least once from Kafka, effectively once per event id for handlers that are
idempotent per id (the dedupe mark is written after the handler, so a crash between the two
replays the handler; handlers therefore upsert rather than increment blindly).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from ..contracts.base import EventPayload
from ..contracts.catalog import BY_TYPE, parse_payload
from ..contracts.envelope import CloudEvent, EnvelopeError
from ..contracts.topics import dlq
from ..metrics import CONSUMER_LAG, EVENTS_CONSUMED, HANDLER_SECONDS
from ..telemetry import extract_context
from .producer import EventPublisher

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("alliance_shared.kafka")


class PermanentError(Exception):
    """A failure that no retry can fix (invalid payload, impossible state): dead-letter at once."""


@dataclass(frozen=True)
class ConsumedMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


Handler = Callable[[CloudEvent, ConsumedMessage], Awaitable[None]]
BatchEnd = Callable[[], Awaitable[None]]


class DedupeStore(Protocol):
    """Remembers which event ids a consumer group has applied."""

    async def seen(self, event_id: str) -> bool: ...

    async def mark(self, event_id: str) -> None: ...


@dataclass(frozen=True)
class ConsumerPolicy:
    max_attempts: int = 4
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    brake_after_consecutive_dead_letters: int = 50
    batch_max_records: int = 200
    auto_offset_reset: str = "earliest"


@dataclass
class ConsumerState:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    consecutive_dead_letters: int = 0
    stopped_reason: str | None = None
    running: bool = False
    last_errors: list[str] = field(default_factory=list)


class ConsumerRunner:
    """Runs `handler` over `topics` for consumer group `group_id` until `stop()`."""

    def __init__(self, *, bootstrap_servers: str, group_id: str, topics: Sequence[str],
                 handler: Handler, publisher: EventPublisher, dedupe: DedupeStore | None = None,
                 policy: ConsumerPolicy | None = None, client_id: str | None = None,
                 on_batch_end: BatchEnd | None = None) -> None:
        """`on_batch_end` runs after each partition batch is handled and before its offsets are
        committed: what handlers buffer (one store write for a batch instead of one per event) is
        written there, so a crash before it replays the batch and nothing buffered is lost."""
        self.group_id = group_id
        self.topics = list(topics)
        self._prefix = publisher.topic_prefix
        self._handler = handler
        self._publisher = publisher
        self._dedupe = dedupe
        self._on_batch_end = on_batch_end
        self._uncommitted = 0  # handled in the current batch, counted in `state.handled` once committed
        self.policy = policy or ConsumerPolicy()
        self.state = ConsumerState()
        self._stopping = asyncio.Event()
        self._consumer = AIOKafkaConsumer(
            *(self._prefix + t for t in self.topics),
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=client_id or group_id,
            enable_auto_commit=False,
            auto_offset_reset=self.policy.auto_offset_reset,
            max_poll_records=self.policy.batch_max_records,
        )

    # -- lifecycle -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish the in-flight message, commit and leave the group."""
        self._stopping.set()

    @property
    def healthy(self) -> bool:
        return self.state.stopped_reason is None

    async def run(self) -> None:
        await self._consumer.start()
        self.state.running = True
        try:
            while not self._stopping.is_set():
                batches = await self._consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    await self._handle_partition_batch(tp, records)
                    if self._stopping.is_set():
                        break
                await self._record_lag()
        finally:
            self.state.running = False
            try:
                await self._consumer.stop()
            except Exception:  # leaving the group is best effort on shutdown
                log.warning("consumer %s did not stop cleanly", self.group_id, exc_info=True)

    async def _handle_partition_batch(self, tp: TopicPartition, records: list[ConsumerRecord[Any, Any]]) -> None:
        last_done: int | None = None
        for record in records:
            if self._stopping.is_set() and last_done is not None:
                break
            await self._handle_one(record)
            last_done = record.offset
            if self.state.consecutive_dead_letters >= self.policy.brake_after_consecutive_dead_letters:
                self.state.stopped_reason = (
                    f"{self.state.consecutive_dead_letters} messages in a row dead-lettered on {tp.topic}; "
                    "consumer stopped so a bad deploy does not empty the topic into its DLQ")
                log.error("consumer %s braked: %s", self.group_id, self.state.stopped_reason)
                self._stopping.set()
                break
        if last_done is not None:
            await self._end_batch()
            await self._consumer.commit({tp: last_done + 1})
            self.state.handled += self._uncommitted
            self._uncommitted = 0

    async def _end_batch(self) -> None:
        """`on_batch_end`, retried with backoff until it succeeds (the offsets wait for it); when
        the runner is stopping it gives up after `max_attempts` and the batch is redelivered."""
        attempt = 0
        while self._on_batch_end is not None:
            attempt += 1
            try:
                await self._on_batch_end()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping.is_set() and attempt >= self.policy.max_attempts:
                    raise
                delay = min(self.policy.backoff_max_s, self.policy.backoff_initial_s * 2 ** (attempt - 1))
                log.warning("end of batch failed (attempt %d), retrying in %.1fs: %s", attempt, delay, exc)
                await asyncio.sleep(delay)

    async def _handle_one(self, record: ConsumerRecord[Any, Any]) -> None:
        message = ConsumedMessage(self._logical(record.topic), record.partition, record.offset, record.key,
                                  tuple(record.headers or ()), record.timestamp)
        try:
            event = CloudEvent.from_kafka(message.headers, record.value)
        except EnvelopeError as exc:
            await self._dead_letter(record, exc, attempts=0)
            return
        if self._dedupe is not None and await self._dedupe.seen(event.id):
            self.state.duplicates += 1
            self.state.consecutive_dead_letters = 0
            EVENTS_CONSUMED.labels(message.topic, self.group_id, "duplicate").inc()
            return
        ctx = extract_context(message.headers)
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                with _tracer.start_as_current_span(
                        f"{message.topic} process", context=ctx, kind=SpanKind.CONSUMER,
                        attributes={"messaging.system": "kafka", "messaging.destination.name": message.topic,
                                    "messaging.consumer.group.name": self.group_id,
                                    "messaging.message.id": event.id, "cloudevents.event_type": event.type}):
                    await self._handler(event, message)
            except PermanentError as exc:
                await self._dead_letter(record, exc, attempts=attempt)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt >= self.policy.max_attempts:
                    await self._dead_letter(record, exc, attempts=attempt)
                    return
                delay = min(self.policy.backoff_max_s, self.policy.backoff_initial_s * 2 ** (attempt - 1))
                log.warning("handler failed on %s (attempt %d), retrying in %.1fs: %s",
                            event.type, attempt, delay, exc)
                await asyncio.sleep(delay)
                continue
            HANDLER_SECONDS.labels(self.group_id).observe(time.perf_counter() - started)
            break
        if self._dedupe is not None:
            await self._dedupe.mark(event.id)
        self._uncommitted += 1
        self.state.consecutive_dead_letters = 0
        EVENTS_CONSUMED.labels(message.topic, self.group_id, "handled").inc()

    def _logical(self, topic: str) -> str:
        return topic[len(self._prefix):] if self._prefix and topic.startswith(self._prefix) else topic

    async def _dead_letter(self, record: ConsumerRecord[Any, Any], exc: BaseException, *, attempts: int) -> None:
        reason = f"{type(exc).__name__}: {exc}"[:2000]
        headers = [h for h in (record.headers or ()) if not h[0].startswith("dlq_")]
        headers += [
            ("dlq_error", reason.encode()),
            ("dlq_error_type", type(exc).__name__.encode()),
            ("dlq_topic", self._logical(record.topic).encode()),
            ("dlq_partition", str(record.partition).encode()),
            ("dlq_offset", str(record.offset).encode()),
            ("dlq_group", self.group_id.encode()),
            ("dlq_attempts", str(attempts).encode()),
        ]
        await self._publisher.send_raw(dlq(self._logical(record.topic)), record.value, record.key, headers)
        self.state.dead_lettered += 1
        self.state.consecutive_dead_letters += 1
        self.state.last_errors = [*self.state.last_errors, reason][-10:]
        EVENTS_CONSUMED.labels(self._logical(record.topic), self.group_id, "dead_lettered").inc()
        log.error("dead-lettered %s[%d]@%d after %d attempts: %s",
                  record.topic, record.partition, record.offset, attempts, reason)

    async def _record_lag(self) -> None:
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await self._consumer.position(tp)
            except Exception:  # a partition revoked mid-check has no position
                continue
            CONSUMER_LAG.labels(tp.topic, str(tp.partition), self.group_id).set(max(0, highwater - position))


PayloadHandler = Callable[[Any, CloudEvent], Awaitable[None]]


class EventDispatch:
    """A service's table of event handlers: payload class → handler(payload, event).

    Types not in the table are skipped (a topic carries more types than any one consumer needs);
    a payload that does not validate is a permanent error (dead-lettered at once)."""

    def __init__(self, table: Mapping[type[EventPayload], PayloadHandler]) -> None:
        self._by_type = {cls.event_type: (cls, fn) for cls, fn in table.items()}

    @property
    def event_types(self) -> list[str]:
        return sorted(self._by_type)

    async def __call__(self, event: CloudEvent, message: ConsumedMessage) -> None:
        entry = self._by_type.get(event.type)
        if entry is None:
            if event.type not in BY_TYPE:
                log.info("skipping unknown event type %s", event.type)
            return
        try:
            payload = parse_payload(event)
        except EnvelopeError as exc:
            raise PermanentError(f"{event.type} {exc.field}: {exc.reason}") from exc
        await entry[1](payload, event)
