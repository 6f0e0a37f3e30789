"""The one way services consume: a runner that commits after handling, skips event ids it has
already applied, retries with backoff, dead-letters what still fails, and brakes on a run of
poison messages from many sources.

Delivery semantics: at least once from Kafka, effectively once per event id. A batch's event ids
are claimed in the dedupe store (one command per batch) before its handlers run; a message
delivered again after a crash finds its own claim and is handled again, so handlers stay
idempotent per id (they upsert rather than increment blindly). Store commands the runner needs —
the claim, the end of the batch — and handler failures that are a store outage are retried until
the store answers, never dead-lettered; any other handler failure is retried `max_attempts` times,
then dead-lettered.

The brake is scoped by source (the message's `ce_institutionid`, else `ce_source`, else its key):
a run of dead letters from one source is an alert (logged, `alliance_dead_letter_runs_total`,
`state.noisy_sources`) while the consumer goes on, so one institution's bad messages never stop
the others' intake nor the next good event of its own. The consumer stops (and is not ready)
only on a run of `brake_after_consecutive_dead_letters` spanning `brake_min_sources` sources or
more — what a bad deploy looks like, when every institution's events fail alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from ..contracts.base import EventPayload
from ..contracts.catalog import BY_TYPE, parse_payload
from ..contracts.envelope import CloudEvent, EnvelopeError
from ..contracts.topics import dlq
from ..metrics import CONSUMER_LAG, DEAD_LETTER_RUNS, EVENTS_CONSUMED, HANDLER_SECONDS
from ..mongo.client import is_transient
from ..mongo.dedupe import Claim
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
    value: bytes | None = None  # as sent (what an L3 record's signature covers)


Handler = Callable[[CloudEvent, ConsumedMessage], Awaitable[None]]
BatchEnd = Callable[[], Awaitable[None]]
T = TypeVar("T")


class DedupeStore(Protocol):
    """Remembers which event ids a consumer group has applied (see `MongoDedupeStore`)."""

    async def claim(self, claims: Sequence[Claim]) -> set[int]: ...

    async def release(self, event_ids: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class ConsumerPolicy:
    max_attempts: int = 4
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    brake_after_consecutive_dead_letters: int = 50  # per source: an alert; across sources: the brake
    brake_min_sources: int = 3  # distinct sources a run must span to stop the consumer
    batch_max_records: int = 200
    auto_offset_reset: str = "earliest"
    # behind and nothing committed for this long: not consuming, so not ready. Slow is not
    # stalled: a batch of 200 L3 records took ~40 s between commits on the fault campaign's store
    # after its restart (its PostgreSQL backends in ClientWrite, the machine at load 10-17), and
    # activity's readiness also gates its L2 API and webhooks; a consumer that stopped consuming
    # is out within this minute (20 s made activity flap and never count as recovered)
    stall_s: float = 60.0


@dataclass
class ConsumerState:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    consecutive_dead_letters: int = 0
    run_sources: set[str] = field(default_factory=set)  # the sources of the current run
    source_runs: dict[str, int] = field(default_factory=dict)  # consecutive dead letters per source
    noisy_sources: dict[str, int] = field(default_factory=dict)  # source -> runs that reached the threshold
    stopped_reason: str | None = None
    running: bool = False
    crashed: str | None = None  # why the last run ended by an error, until a new run has started
    waiting_for: str | None = None  # the store command being retried, while it fails
    restarts: int = 0
    last_errors: list[str] = field(default_factory=list)


class ConsumerRunner:
    """Runs `handler` over `topics` for consumer group `group_id` until `stop()`."""

    def __init__(self, *, bootstrap_servers: str, group_id: str, topics: Sequence[str],
                 handler: Handler, publisher: EventPublisher, dedupe: DedupeStore | None = None,
                 policy: ConsumerPolicy | None = None, client_id: str | None = None,
                 on_batch_end: BatchEnd | None = None, only_types: Collection[str] | None = None,
                 security: Mapping[str, Any] | None = None) -> None:
        """`on_batch_end` runs after each poll's records are handled and before their offsets are
        committed: what handlers buffer (one store write for a batch instead of one per event) is
        written there, so a crash before it replays the batch and nothing buffered is lost.
        With `only_types`, a message whose `ce_type` header is not one of them is passed over
        unread (not decoded, no span): a listener for a few types keeps up with a busy topic."""
        self.group_id = group_id
        self.topics = list(topics)
        self._prefix = publisher.topic_prefix
        self._handler = handler
        self._publisher = publisher
        self._dedupe = dedupe
        self._on_batch_end = on_batch_end
        self._only_types = None if only_types is None else {t.encode() for t in only_types}
        self._uncommitted = 0  # handled in the current batch, counted in `state.handled` once committed
        self.policy = policy or ConsumerPolicy()
        self.state = ConsumerState()
        self._stopping = asyncio.Event()
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id or group_id
        self._security = dict(security or {})  # alliance_shared.kafka.security
        # what readiness and the lag metric read: the offsets this member committed (or found
        # committed when it was given the partition), whether the group has given it its share
        # since the run started, and when it last made progress (committed, or had nothing to do)
        self._committed: dict[TopicPartition, int] = {}
        self._assignments = 0  # rebalances seen: a committed offset read across one is read again
        self._joined = False
        self._progress_at = float("-inf")
        self._consumer = self._new_consumer()

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap_servers,
            group_id=self.group_id,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset=self.policy.auto_offset_reset,
            max_poll_records=self.policy.batch_max_records,
            **self._security,
        )

    # -- lifecycle -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish the in-flight message, commit and leave the group."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def healthy(self) -> bool:
        """Not braked, not crashed, not stuck on a store command that keeps failing."""
        s = self.state
        return s.stopped_reason is None and s.crashed is None and s.waiting_for is None

    @property
    def ready(self) -> bool:
        """What readiness asks: `healthy` and `consuming`."""
        return self.healthy and self.consuming

    @property
    def consuming(self) -> bool:
        """Running, given its partitions by the group (an empty share counts) and caught up on
        them, or behind and committing: behind for `policy.stall_s` with nothing committed (a
        handler that hangs, a batch that never ends, a group that never assigned) is not."""
        if not self.state.running or not self._joined:
            return False
        lag = self.lag()
        if lag is None:
            return False
        now = time.monotonic()
        if lag == 0:
            self._progress_at = now
            return True
        return now - self._progress_at < self.policy.stall_s

    def lag(self) -> int | None:
        """Records on this member's partitions past what it committed (None: not known yet — a
        partition not fetched from, or its committed offset not read yet)."""
        total = 0
        for tp in self._consumer.assignment():
            highwater, committed = self._consumer.highwater(tp), self._committed.get(tp)
            if highwater is None or committed is None:
                return None
            total += max(0, highwater - committed)
        return total

    async def run(self) -> None:
        """Consume until `stop()` or the brake. An error that escapes ends the run with
        `state.crashed` set; calling `run()` again starts afresh from the committed offsets."""
        if self.state.running:
            raise RuntimeError(f"consumer {self.group_id} is already running")
        if self.state.crashed is not None:  # a restart: the previous consumer is gone
            self._consumer = self._new_consumer()
            self.state.restarts += 1
        self._uncommitted = 0
        self._joined, self._progress_at = False, float("-inf")
        self._committed.clear()
        try:
            # subscribed before the start, which then waits for the group's first assignment
            self._consumer.subscribe([self._prefix + t for t in self.topics], listener=_Assignments(self))
            await self._consumer.start()
        except BaseException as exc:
            self.state.crashed = f"{type(exc).__name__}: {exc}"[:500]
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            raise
        self.state.running, self.state.crashed = True, None
        lag = asyncio.create_task(self._watch_lag(), name=f"lag:{self.group_id}")
        try:
            while not self._stopping.is_set():
                batches = await self._consumer.getmany(timeout_ms=500)
                if batches:
                    await self._handle_poll(batches)
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.state.crashed = f"{type(exc).__name__}: {exc}"[:500]
            raise
        finally:
            self.state.running = False
            lag.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag
            try:
                await self._consumer.stop()
            except Exception:  # leaving the group is best effort on shutdown
                log.warning("consumer %s did not stop cleanly", self.group_id, exc_info=True)

    async def _handle_poll(self, batches: Mapping[TopicPartition, list[ConsumerRecord[Any, Any]]]) -> None:
        """One poll's records, each partition's in order: one dedupe claim, one `on_batch_end` and
        one commit for the whole poll (per partition batch, a poll over activity.events.v1's 12
        partitions paid the batch's store commands up to 12 times)."""
        offsets: dict[TopicPartition, int] = {}
        work: list[tuple[TopicPartition, list[tuple[Any, ConsumedMessage, CloudEvent | EnvelopeError]]]] = []
        for tp, records in batches.items():
            if self._only_types is not None:
                wanted = [r for r in records if _ce_type(r) in self._only_types]
                if not wanted and records:  # nothing for us: move on without decoding any of it
                    offsets[tp] = records[-1].offset + 1
                    continue
                records = wanted
            work.append((tp, [self._arrived(record) for record in records]))
        duplicates = await self._claim([a for _, arrived in work for a in arrived])
        failed: list[str] = []  # event ids dead-lettered: their claims are released
        handled_any = False
        position = 0
        for tp, arrived in work:
            if self._stopping.is_set() and handled_any:
                break
            last_done: int | None = None
            for i, (record, message, event) in enumerate(arrived, start=position):
                if self._stopping.is_set() and handled_any:
                    break
                if isinstance(event, EnvelopeError):
                    await self._dead_letter(record, event, attempts=0)
                elif i in duplicates:
                    self.state.duplicates += 1
                    self._succeeded(message)
                    EVENTS_CONSUMED.labels(message.topic, self.group_id, "duplicate").inc()
                elif not await self._handle_one(record, message, event):
                    failed.append(event.id)
                last_done, handled_any = record.offset, True
                if self._braked(tp.topic):
                    break
            position += len(arrived)
            if last_done is not None:
                offsets[tp] = last_done + 1
        if handled_any:
            dedupe = self._dedupe
            if dedupe is not None and failed:
                await self._until_done("releasing dead-lettered claims", lambda: dedupe.release(failed))
            await self._end_batch()
        if offsets:
            await self._commit(offsets)
            self.state.handled += self._uncommitted
            self._uncommitted = 0

    def _arrived(self, record: ConsumerRecord[Any, Any]) -> tuple[
            ConsumerRecord[Any, Any], ConsumedMessage, CloudEvent | EnvelopeError]:
        message = ConsumedMessage(self._logical(record.topic), record.partition, record.offset, record.key,
                                  tuple(record.headers or ()), record.timestamp, record.value)
        try:
            return record, message, CloudEvent.from_kafka(message.headers, record.value)
        except EnvelopeError as exc:
            return record, message, exc

    async def _commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        await self._consumer.commit(dict(offsets))
        self._committed.update(offsets)
        self._progress_at = time.monotonic()

    async def _claim(self, arrived: Sequence[tuple[Any, ConsumedMessage, CloudEvent | EnvelopeError]]) -> set[int]:
        """The positions in `arrived` of events already applied: one dedupe command per batch."""
        dedupe = self._dedupe
        if dedupe is None:
            return set()
        at: list[int] = []
        claims: list[Claim] = []
        for i, (_, message, event) in enumerate(arrived):
            if isinstance(event, CloudEvent):
                at.append(i)
                claims.append(Claim(event.id, message.topic, message.partition, message.offset))
        refused = await self._until_done("claiming event ids", lambda: dedupe.claim(claims))
        return {at[i] for i in refused}

    async def _until_done(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        """`op` (a store command the batch cannot go on without) retried with backoff until it
        succeeds, `state.waiting_for` saying so meanwhile; when the runner is stopping it gives
        up after `max_attempts` and raises: the batch is not committed and comes again."""
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await op()
                self.state.waiting_for = None
                return result
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping.is_set() and attempt >= self.policy.max_attempts:
                    raise
                if attempt >= self.policy.max_attempts:
                    self.state.waiting_for = what
                delay = self._backoff(attempt)
                log.warning("%s failed (attempt %d), retrying in %.1fs: %s", what, attempt, delay, exc)
                await asyncio.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.policy.backoff_max_s, self.policy.backoff_initial_s * 2 ** (attempt - 1)))

    async def _end_batch(self) -> None:
        """`on_batch_end`, retried until it succeeds (the offsets wait for it)."""
        if self._on_batch_end is not None:
            await self._until_done("end of batch", self._on_batch_end)

    async def _handle_one(self, record: ConsumerRecord[Any, Any], message: ConsumedMessage,
                          event: CloudEvent) -> bool:
        """Run the handler; False when the event was dead-lettered. A store outage is waited out
        (it counts no attempt): an event is never dead-lettered because the store restarted."""
        ctx = extract_context(message.headers)
        attempt = outage = 0
        while True:
            started = time.perf_counter()
            try:
                with _tracer.start_as_current_span(
                        f"{message.topic} process", context=ctx, kind=SpanKind.CONSUMER,
                        attributes={"messaging.system": "kafka", "messaging.destination.name": message.topic,
                                    "messaging.consumer.group.name": self.group_id,
                                    "messaging.message.id": event.id, "cloudevents.event_type": event.type}):
                    await self._handler(event, message)
            except PermanentError as exc:
                await self._dead_letter(record, exc, attempts=attempt + 1)
                return False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    outage += 1
                    if self._stopping.is_set() and outage >= self.policy.max_attempts:
                        raise
                    if outage >= self.policy.max_attempts:
                        self.state.waiting_for = f"the store, handling {event.type}"
                    delay = self._backoff(outage)
                else:
                    attempt += 1
                    if attempt >= self.policy.max_attempts:
                        await self._dead_letter(record, exc, attempts=attempt)
                        return False
                    delay = self._backoff(attempt)
                log.warning("handler failed on %s (attempt %d), retrying in %.1fs: %s",
                            event.type, attempt + outage, delay, exc)
                await asyncio.sleep(delay)
                continue
            self.state.waiting_for = None
            HANDLER_SECONDS.labels(self.group_id).observe(time.perf_counter() - started)
            break
        self._uncommitted += 1
        self._succeeded(message)
        EVENTS_CONSUMED.labels(message.topic, self.group_id, "handled").inc()
        return True

    def _succeeded(self, message: ConsumedMessage) -> None:
        self.state.consecutive_dead_letters = 0
        self.state.run_sources.clear()
        self.state.source_runs.pop(source_of(message), None)

    def _count_dead_letter(self, message: ConsumedMessage) -> None:
        """One more dead letter in the current run and in its source's; a source's run reaching
        the threshold is an alert, once per run."""
        s, source = self.state, source_of(message)
        s.consecutive_dead_letters += 1
        if len(s.run_sources) < self.policy.brake_min_sources:
            s.run_sources.add(source)
        run = s.source_runs.pop(source, 0) + 1
        s.source_runs[source] = run  # most recent last, so the oldest is forgotten first
        if len(s.source_runs) > _MAX_TRACKED_SOURCES:
            del s.source_runs[next(iter(s.source_runs))]
        if run == self.policy.brake_after_consecutive_dead_letters:
            s.noisy_sources[source] = s.noisy_sources.get(source, 0) + 1
            if len(s.noisy_sources) > _MAX_TRACKED_SOURCES:
                del s.noisy_sources[next(iter(s.noisy_sources))]
            DEAD_LETTER_RUNS.labels(message.topic, self.group_id).inc()
            log.error("consumer %s: %d messages in a row from source %r dead-lettered on %s; "
                      "still consuming (the source's later messages are handled as they come)",
                      self.group_id, run, source[:200], message.topic)

    def _braked(self, topic: str) -> bool:
        """Stop on a run of dead letters spanning many sources: a bad deploy must not empty the
        topic into its DLQ. A run from fewer sources never stops the consumer."""
        s = self.state
        if (s.consecutive_dead_letters < self.policy.brake_after_consecutive_dead_letters
                or len(s.run_sources) < self.policy.brake_min_sources):
            return False
        s.stopped_reason = (
            f"{s.consecutive_dead_letters} messages in a row from {len(s.run_sources)} or more sources "
            f"dead-lettered on {topic}; consumer stopped so a bad deploy does not empty the topic into its DLQ")
        log.error("consumer %s braked: %s", self.group_id, s.stopped_reason)
        self._stopping.set()
        return True

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
        self._count_dead_letter(ConsumedMessage(self._logical(record.topic), record.partition, record.offset,
                                                record.key, tuple(record.headers or ()), record.timestamp))
        self.state.last_errors = [*self.state.last_errors, reason][-10:]
        EVENTS_CONSUMED.labels(self._logical(record.topic), self.group_id, "dead_lettered").inc()
        log.error("dead-lettered %s[%d]@%d after %d attempts: %s",
                  record.topic, record.partition, record.offset, attempts, reason)

    async def _watch_lag(self, interval_s: float = 1.0) -> None:
        """Every second, beside the loop (so a handler that hangs cannot freeze it): the committed
        offset of a newly assigned partition read once, then `alliance_consumer_lag` per partition
        from the committed offsets (what a restart would read again), and progress noted."""
        while True:
            for tp in self._consumer.assignment():
                if tp not in self._committed:
                    given = self._assignments
                    try:
                        start = await self._start_of(tp)
                    except Exception:  # revoked meanwhile, the coordinator moving: next time
                        continue
                    # what the loop committed while the read was in flight is newer than what it read
                    # (overwritten, the lag stood at the difference until the partition's next commit)
                    if self._assignments == given:
                        self._committed.setdefault(tp, start)
                highwater, committed = self._consumer.highwater(tp), self._committed.get(tp)
                if highwater is not None and committed is not None:
                    CONSUMER_LAG.labels(tp.topic, str(tp.partition), self.group_id).set(max(0, highwater - committed))
            self.consuming  # noqa: B018 -- caught up counts as progress even while nobody asks
            await asyncio.sleep(interval_s)


    async def _start_of(self, tp: TopicPartition) -> int:
        """Where the group stands on `tp`: its committed offset, else where a reset starts (the log's
        start for "earliest", its end for "latest"; not 0, which retention may have passed)."""
        committed = await self._consumer.committed(tp)
        if committed is not None:
            return int(committed)
        ends = (self._consumer.beginning_offsets if self.policy.auto_offset_reset == "earliest"
                else self._consumer.end_offsets)
        return int((await ends([tp]))[tp])


class _Assignments(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells the runner when the group has given it its partitions; a partition given again is
    read afresh (another member may have committed on it meanwhile)."""

    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        self._runner._assignments += 1
        for tp in revoked:
            self._runner._committed.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        self._runner._assignments += 1
        for tp in assigned:
            self._runner._committed.pop(tp, None)
        self._runner._joined = True


_MAX_TRACKED_SOURCES = 10_000  # sources a forged flood can make the runner remember
_SOURCE_HEADERS = ("ce_institutionid", "ce_source")


def source_of(message: ConsumedMessage) -> str:
    """Who a message comes from, for the brake: its institution, else its CloudEvents source,
    else its key (read from the headers, so a message that does not decode has one too)."""
    headers = {name: value for name, value in message.headers if name in _SOURCE_HEADERS}
    for name in _SOURCE_HEADERS:
        if headers.get(name):
            return f"{name[3:]}:{bytes(headers[name]).decode(errors='replace')}"
    return f"key:{message.key.decode(errors='replace')}" if message.key else "unknown"


def _ce_type(record: ConsumerRecord[Any, Any]) -> bytes | None:
    for name, value in record.headers or ():
        if name == "ce_type":
            return bytes(value)
    return None


PayloadHandler = Callable[[Any, CloudEvent], Awaitable[None]]
Context = TypeVar("Context")


def with_context(
    table: Mapping[type[EventPayload], Callable[[Context, Any, CloudEvent], Awaitable[None]]], context: Context
) -> dict[type[EventPayload], PayloadHandler]:
    """A service's handler table (`payload class → handler(context, payload, event)`, the context
    being what its use cases work with) with the context given: the table `EventDispatch` takes."""
    return {kind: functools.partial(handler, context) for kind, handler in table.items()}


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
