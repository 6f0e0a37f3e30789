"""The one ingestion path: every channel (form, upload, batch API, webhook, Kafka) ends in
`IngestSubmissions`, which assesses each pass of submissions (`domain.assessment`), stores the
records with the events they publish in one write, and publishes them. Concurrent requests of a
channel share a pass (group commit): while one is stored and published, the next gathers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alliance_shared.clock import Clock
from alliance_shared.contracts.vocabulary import Channel
from alliance_shared.runtime import Runtime
from prometheus_client import Counter

from ..adapters.projection import RegistryProjection
from ..adapters.submissions import Batch, SubmissionStore, outgoing
from ..domain.assessment import Assessor, Needs, Parsed, needs_of, parse
from ..domain.model import Accepted, Arrival, Duplicate, Rejected, Reporter, Submitted, Verdict
from ..domain.reasons import ID_TAKEN, reason

log = logging.getLogger(__name__)
INGESTED = Counter("alliance_activity_ingested_total", "Submitted activity events by outcome", ["channel", "outcome"])


Progress = Callable[[str], Awaitable[None]]  # told each phase of a pass: checked, stored, published
# refuses accepted items of a pass after assessment, with their reasons (the period lock: `usecases/period_gate.py`)
Gate = Callable[[Sequence["IngestReport"], Sequence[Arrival], datetime], Awaitable[None]]


async def _untold(_: str) -> None:
    return None


@dataclass
class IngestReport:
    """The answer for one submission: counts, and each rejection with its reason."""

    accepted: list[Accepted] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    batch_id: str | None = None  # the submission's id, in every accepted event's provenance

    def add(self, verdict: Verdict) -> None:
        if isinstance(verdict, Accepted):
            self.accepted.append(verdict)
        elif isinstance(verdict, Duplicate):
            self.duplicates.append(verdict)
        else:
            self.rejected.append(verdict)


@dataclass
class _Waiting:
    reporter: Reporter
    items: list[Submitted]
    answer: asyncio.Future[IngestReport]


class IngestSubmissions:
    """The one ingestion path: validate, check against the registry projection, dedupe by event
    id, store each outcome with the event announcing it, publish to `activity.events.v1` /
    `activity.rejected.v1`, settle. A pass costs a handful of store commands whatever its size:
    one `$in` per projection collection and history question, a batch marker, one unordered
    `insert_many` (whose duplicate-key errors are the repeats), one update to settle.
    With `dry_run` (the sandbox) it decides the same and stores and publishes nothing.

    Concurrent submissions of one channel share a pass (group commit): while a pass is being
    stored and published, those that arrive wait and then go together in the next, up to
    `pass_max_events` events. An idle service adds no wait; a busy one pays a pass's handful of
    store commands and one wait for Kafka's acknowledgements per group, not per request (a webhook
    carries one event: during the demo's quarter, webhooks were 80 % of activity's busy time)."""

    def __init__(
        self,
        runtime: Runtime,
        projection: RegistryProjection,
        submissions: SubmissionStore,
        clock: Clock,
        future_tolerance: timedelta,
        gate: Gate | None = None,
        pass_max_events: int = 5000,
    ) -> None:
        self._gate = gate
        self._pass_max = pass_max_events
        self._waiting: dict[Channel, list[_Waiting]] = {}
        self._passes: dict[Channel, asyncio.Task[None]] = {}
        self._runtime = runtime
        self._projection = projection
        self._submissions = submissions
        self._clock = clock
        self._tolerance = future_tolerance

    async def __call__(
        self,
        items: list[Submitted],
        channel: Channel,
        reporter: Reporter,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
        file_name: str | None = None,
    ) -> IngestReport:
        if dry_run or progress is not None or file_name is not None:  # an upload is a pass of its own
            [report] = await self.many(
                [(reporter, items)], channel, dry_run=dry_run, progress=progress, file_name=file_name
            )
            return report
        answer: asyncio.Future[IngestReport] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(channel, []).append(_Waiting(reporter, items, answer))
        if channel not in self._passes:
            self._passes[channel] = asyncio.create_task(self._drain(channel), name=f"ingest passes: {channel.value}")
        # shielded: a client gone away leaves its events in the pass (its retry finds them stored)
        return await asyncio.shield(answer)

    async def _drain(self, channel: Channel) -> None:
        """Passes of what waits on `channel`, oldest first, until nothing does."""
        waiting = self._waiting[channel]
        try:
            while waiting:
                taken = [waiting.pop(0)]
                events = len(taken[0].items)
                while waiting and events + len(waiting[0].items) <= self._pass_max:
                    events += len(waiting[0].items)
                    taken.append(waiting.pop(0))
                try:
                    reports = await self.many([(w.reporter, w.items) for w in taken], channel)
                except Exception as exc:  # each request answers it (a store outage: 503)
                    for w in taken:
                        if not w.answer.done():
                            w.answer.set_exception(exc)
                    continue
                except BaseException:
                    waiting[:0] = taken  # cancelled: answered below with the others
                    raise
                for w, report in zip(taken, reports, strict=True):
                    if not w.answer.done():
                        w.answer.set_result(report)
        finally:
            del self._passes[channel]
            for w in waiting:  # cancelled (the service stopping): nobody is left to pass them
                if not w.answer.done():
                    w.answer.cancel()
            waiting.clear()

    async def many(
        self,
        submissions: Sequence[tuple[Reporter, list[Submitted]]],
        channel: Channel,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
        file_name: str | None = None,
    ) -> list[IngestReport]:
        """Several reporters' submissions in one pass (a Kafka batch holds many institutions'):
        one read of the projection and the history, one write, one publish for all of them."""
        now = self._clock.now()
        batch = self._submissions.batch()  # its id is the provenance of every event of the pass
        arrivals = [Arrival(channel, reporter, now, batch.id, file_name) for reporter, _ in submissions]
        parsed = [[parse(item) for item in items] for _, items in submissions]
        needs = Needs()
        for arrival, items_ in zip(arrivals, parsed, strict=True):
            needs.merge(needs_of([p for p in items_ if isinstance(p, Parsed)], arrival))
        reference = await self._projection.reference(
            needs.institution_ids, needs.organization_ids, needs.member_ids, needs.secretaries
        )
        # the sandbox stores nothing, so it looks every id up; the real path lets the unique
        # `_id` of the insert find repeats
        known = needs.event_ids if dry_run else needs.superseded_ids
        history = await self._submissions.history(
            known, needs.learning_days, needs.minutes_hashes, needs.photo_hashes, needs.meeting_keys
        )
        reports = []
        for arrival, items_ in zip(arrivals, parsed, strict=True):
            assessor = Assessor(arrival, reference, history, self._tolerance)
            report = IngestReport(batch_id=None if dry_run else batch.id)
            for item in items_:
                report.add(assessor.assess(item))
            reports.append(report)
        if self._gate is not None:
            await self._gate(reports, arrivals, now)
        told = progress or _untold
        await told("checked")
        if not dry_run:
            await self._record(batch, reports, arrivals, told)
        for report in reports:
            INGESTED.labels(channel.value, "accepted").inc(len(report.accepted))
            INGESTED.labels(channel.value, "duplicate").inc(len(report.duplicates))
            INGESTED.labels(channel.value, "rejected").inc(len(report.rejected))
        return reports

    async def _record(
        self, batch: Batch, reports: Sequence[IngestReport], arrivals: Sequence[Arrival], told: Progress
    ) -> None:
        """The batch marker first (a crash after it still publishes), then the per-event records
        (whose unique ids catch an event that came before), publish, settle."""
        store = self._submissions
        for report, arrival in zip(reports, arrivals, strict=True):
            store.add(batch, report.accepted, report.rejected, arrival)
        await store.open(batch, arrivals[0].received_at)
        try:
            collided = await store.insert(batch.records)
            if collided:
                batch.messages = [m for m in batch.messages if m[1].id not in collided]
                await self._collisions(batch, reports, arrivals, collided)
            await told("stored")
            await self._runtime.bus.publish_many(outgoing(batch.messages))
            await store.published(batch)
        finally:
            store.closed(batch)
        await told("published")
        corrections = [
            (a.event.supersedes, a.event.id) for report in reports for a in report.accepted if a.event.supersedes
        ]
        await store.mark_superseded(corrections)

    async def _collisions(
        self, batch: Batch, reports: Sequence[IngestReport], arrivals: Sequence[Arrival], collided: set[str]
    ) -> None:
        """An id already stored is a duplicate of the same institution's event; another
        institution's id is refused (and that refusal recorded and published)."""
        owners = await self._submissions.owners(collided)
        taken_records = []
        for report, arrival in zip(reports, arrivals, strict=True):
            kept: list[Accepted] = []
            taken: list[Rejected] = []
            for a in report.accepted:
                if a.event.id not in collided:
                    kept.append(a)
                elif (owner := owners.get(a.event.id)) is not None and owner.institution_id != a.event.institutionid:
                    taken.append(
                        Rejected(
                            a.event.id,
                            a.label,
                            a.row,
                            (reason("id", ID_TAKEN),),
                            type=a.event.type,
                            institution_id=a.event.institutionid,
                        )
                    )
                else:
                    report.duplicates.append(Duplicate(a.event.id, a.label, a.row))
            report.accepted = kept
            report.rejected += taken
            taken_records += self._submissions.add_rejections(batch, taken, arrival)
        await self._submissions.insert(taken_records)


async def arm_stranded_submissions(submissions: SubmissionStore, clock: Clock, grace_s: float) -> None:
    armed = await submissions.arm_stranded(clock.now() - timedelta(seconds=grace_s))
    if armed:
        log.warning("handed %d unpublished submitted events to the outbox relay", armed)


