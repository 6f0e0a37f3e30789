"""What the evaluation service does, as use cases: project other services' events, rescore the
periods they touch, detect lagging branches, close periods, take ratings, adjustments and appeals.
The tables at the end (`EVENT_HANDLERS`) read as the service's behaviour in one screen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.clock import Clock
from alliance_shared.contracts import activity as act
from alliance_shared.contracts import notification as note
from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.evaluation import PeriodClosed as PeriodClosedEvent
from alliance_shared.jobs import Progress
from prometheus_client import Histogram

from .adapters import ranks
from .adapters.projections import Projections, RegistryWrite
from .adapters.readmodels import ReadModels
from .adapters.scorebook import SOURCE, store_scores
from .domain.changes import explain
from .domain.errors import PeriodClosed, PeriodNotOver
from .domain.facts import PeriodFacts
from .domain.periods import Period, local_day, month_window, periods_between
from .domain.roll import RollChange
from .domain.ruleset import RULESET_DIR, Ruleset, load_ruleset
from .domain.scoring import PeriodScores, score_period
from .settings import EvaluationSettings
from .usecases import audit
from .usecases.lagging_scan import LaggingScan

SCORING_SECONDS = Histogram(
    "alliance_scoring_seconds", "Time to load, score and store one chunk of institutions", ["trigger"]
)


@dataclass
class Evaluation:
    projections: Projections
    models: ReadModels
    ruleset: Ruleset
    clock: Clock
    settings: EvaluationSettings
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # (period, institution) pairs the consumer's handlers found dirty since its last batch ended:
    # written by `flush_dirty` in one command per batch (a registry import dirtied the same few
    # pairs once per member, each an upsert)
    _dirty: dict[str, set[str]] = field(default_factory=dict)
    _activities: list[dict[str, Any]] = field(default_factory=list)  # accepted events not yet stored
    # the registry events' projection writes not yet applied (`flush_registry`: before anything
    # reads the projections back, and at the batch's end)
    _registry: list[RegistryWrite] = field(default_factory=list)
    # period → the ruleset published for it (rulesets.py keeps it current); other periods: `ruleset`
    in_force: dict[str, Ruleset] = field(default_factory=dict)
    # closed (period, institution) pairs a report admitted under an unlock exception rescores
    _unlocked: dict[str, set[str]] = field(default_factory=dict)
    # set when a batch queued rescores: the rescore loop wakes at once (a live stream's scores)
    queued: asyncio.Event = field(default_factory=asyncio.Event)

    def ruleset_version(self, version: str | None) -> Ruleset:
        if not version or version == self.ruleset.version:
            return self.ruleset
        return load_ruleset(
            version, Path(self.settings.ruleset_dir) if self.settings.ruleset_dir else RULESET_DIR
        )

    # -- registry events ----------------------------------------------------------------------
    async def on_institution(
        self, p: reg.InstitutionRegistered | reg.InstitutionReclassified, e: CloudEvent
    ) -> None:
        self._registry.append(self.projections.institution_class(
            p.institution_id,
            p.name,
            p.effective_from,
            p.classification.model_dump(mode="json"),
            e.id,
            getattr(p, "uscc", None),
        ))
        await self._dirty_from(p.effective_from, [p.institution_id])

    async def on_organization_opened(self, p: reg.OrganizationOpened, e: CloudEvent) -> None:
        self._registry.append(self.projections.organization(
            p.organization_id,
            {
                "institution_ids": p.institution_ids,
                "kind": p.kind.value,
                "name": p.name,
                "parent_id": p.parent_id,
                "opened": p.established_at.isoformat(),
                "has_party_groups": p.has_party_groups,
            },
        ))
        await self._dirty_from(p.established_at, p.institution_ids)

    async def on_organization_updated(self, p: reg.OrganizationUpdated, e: CloudEvent) -> None:
        self._registry.append(self.projections.organization(
            p.organization_id,
            {
                "institution_ids": p.institution_ids,
                "name": p.name,
                "parent_id": p.parent_id,
                "has_party_groups": p.has_party_groups,
            },
        ))
        await self._dirty_from(local_day(self.clock.now()), p.institution_ids)

    async def on_organization_closed(self, p: reg.OrganizationClosed, e: CloudEvent) -> None:
        self._registry.append(self.projections.organization(p.organization_id, {"closed": p.closed_at.isoformat()}))
        await self.flush_registry()  # the organisation's institutions are read back
        await self._dirty_from(p.closed_at, await self.projections.institutions_of_orgs([p.organization_id]))

    async def on_roll_change(self, p: EventPayload, e: CloudEvent) -> None:
        change, member_id, institutions = _roll_change(p, e)
        self._registry.append(self.projections.roll_change(member_id, change, institutions))
        await self._dirty_from(change.on, institutions)

    # -- activity events ----------------------------------------------------------------------
    async def on_activity(self, p: EventPayload, e: CloudEvent) -> None:
        """Kept for the end of the batch (`end_batch`: one insert for the batch's events, their
        owners read once); a correction is stored at once, after what came before it."""
        doc = activity_document(p, e, self.clock.now())
        if not e.supersedes:
            self._activities.append(doc)
            return
        await self.flush_activities()
        old = await self.projections.activity(doc, e.supersedes)
        owners = await self.projections.owners_of_activities([doc])
        periods = {doc["period"]} | ({old["period"]} if old and old.get("period") else set())
        await self._queue(sorted(periods), e.id, owners[doc["_id"]], await self.models.closed_periods(), doc)

    async def flush_registry(self) -> None:
        writes, self._registry = self._registry, []
        try:
            await self.projections.apply_registry(writes)
        except BaseException:
            self._registry = writes + self._registry
            raise

    async def flush_activities(self, closed: dict[str, datetime] | None = None) -> None:
        await self.flush_registry()  # an event's owners are read from the roll and the tree
        docs, self._activities = self._activities, []
        if not docs:
            return
        try:
            await self.projections.activities(docs)
            owners = await self.projections.owners_of_activities(docs)
        except BaseException:
            self._activities = docs + self._activities
            raise
        closed = closed if closed is not None else await self.models.closed_periods()
        unlocks: dict[str, list[dict[str, Any]]] = {}
        for doc in docs:
            await self._queue([doc["period"]], doc["_id"], owners[doc["_id"]], closed, doc, unlocks)

    async def _queue(
        self, periods: list[str], event_id: str, institutions: set[str], closed: Any,
        doc: dict[str, Any] | None = None, unlocks: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:  # fmt: skip
        for p_text in periods:
            if p_text not in closed:
                self._dirty.setdefault(p_text, set()).update(institutions)
                continue
            await self.models.record_late(p_text, event_id, self.clock.now())  # reported late
            # admitted under an unlock exception of its branch or institution: the closed quarter
            # is rescored for the institutions the exception covers; otherwise it changes nothing
            if doc is not None:
                cache = unlocks if unlocks is not None else {}  # a batch reads each period's once
                if p_text not in cache:
                    cache[p_text] = list((await self.models.period(p_text) or {}).get("unlocks") or [])
                covered = {i for i in institutions if unlocked(cache[p_text], doc, i, self.clock.now())}
                if covered:
                    self._unlocked.setdefault(p_text, set()).update(covered)

    async def on_review(
        self, p: act.SubmissionApproved | act.SubmissionReturned | act.SubmissionResubmitted, e: CloudEvent
    ) -> None:
        """A reported meeting or public activity was reviewed: its state is stored with it (after
        the batch's events, so the report is there) and its period rescored (the ruleset says
        which states count)."""
        await self.flush_activities()
        step = {"event_id": e.id, "state": p.state.value, "by": p.by, "comment": p.comment, "at": p.at}
        doc = await self.projections.review(p.submission_id, p.state.value, p.version, step)
        if doc is not None and doc.get("period"):
            owners = await self.projections.owners_of_activities([doc])
            await self._queue([doc["period"]], e.id, owners[doc["_id"]], await self.models.closed_periods(), doc)

    async def on_rejected(self, p: act.SubmissionRejected, e: CloudEvent) -> None:
        await self.projections.rejection(
            {
                "_id": p.submission_id,
                "institution_id": p.institution_id,
                "organization_id": p.organization_id,
                "channel": p.channel.value,
                "event_type": p.event_type_submitted,
                "reasons": [r.model_dump() for r in p.reasons],
                "received_at": p.received_at,
                "period": str(Period.of_instant(p.received_at)),
            }
        )

    async def on_delivery(self, p: note.DeliveryStatusChanged, e: CloudEvent) -> None:
        await self.projections.delivery(
            p.delivery_id,
            {
                "organization_id": p.organization_id,
                "institution_id": p.institution_id,
                "rule": p.rule,
                "step": p.step,
                "channel": p.channel,
                "status": p.status,
                "attempt": p.attempt,
                "recipient": p.recipient_masked,
                "period": p.period,
                "at": p.at,
                "reason": p.reason_zh,  # why it was not delivered, from the provider's receipt
            },
            {"event_id": e.id, "status": p.status, "at": p.at, "error": p.error, "reason": p.reason_zh},
        )

    # -- scoring --------------------------------------------------------------------------------
    async def rescore_dirty(self) -> int:
        async with self._lock:  # the queue loop, a scan and a close may all drain at once
            return await self._rescore_dirty()

    async def _rescore_dirty(self) -> int:
        """Drain the queue in one round: each open period once, for all its dirty institutions, the
        newest period first (the quarter the dashboard opens on is ready soonest). A burst of events
        is one rescore per period, whatever its size (the loop in `entrypoints.schedule` waits for
        the burst to end)."""
        entries = await self.models.dirty(limit=self.settings.rescore_queue_limit)
        closed = await self.models.closed_periods()
        by_period: dict[str, set[str]] = {}
        for entry in entries:
            # a closed quarter only for the institutions a report admitted under an unlock exception named
            if entry["period"] not in closed or entry.get("unlocked"):
                by_period.setdefault(entry["period"], set()).add(entry["institution_id"])
        changed = 0
        for period, ids in sorted(by_period.items(), reverse=True):
            changed += await self._rescore(
                Period.parse(period), sorted(ids), trigger="unlock" if period in closed else "events",
                closed_ok=period in closed,
            )  # fmt: skip
        await self.models.clean(entries)
        return changed

    async def rescore(
        self, period: Period, institution_ids: Sequence[str] | None = None, *, trigger: str = "manual"
    ) -> int:
        async with self._lock:  # one scorer at a time: score documents are replaced, not updated
            return await self._rescore(period, institution_ids, trigger=trigger)

    async def _rescore(
        self, period: Period, institution_ids: Sequence[str] | None = None, *, trigger: str = "manual",
        closed_ok: bool = False,
    ) -> int:  # fmt: skip
        if not closed_ok and await self._is_closed(str(period)):
            raise PeriodClosed(str(period))
        ids = (
            list(institution_ids)
            if institution_ids is not None
            else await self.projections.institutions_to_score()
        )
        await self.models.ensure_ranks(str(period))
        size = self.settings.rescore_chunk
        chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
        reviews = await self.projections.reviews(period)
        # chunk by chunk: only the facts of the chunks in the pipeline are held, never the quarter's
        changed = 0
        today = local_day(self.clock.now())  # an open quarter is judged on what is due by today
        # a pipeline: the next chunk's facts load while this one is scored (in a thread: the event
        # loop keeps serving requests and consuming) and the previous one is written
        loading: asyncio.Task[PeriodFacts] | None = None
        writing: asyncio.Task[tuple[int, list[dict[str, Any]]]] | None = None
        rank_docs: list[dict[str, Any]] = []  # the scored institutions' rank documents, as written
        # their keys and repeated strings held once, as `ranks.read` holds them: they become the quarter
        # `RankCache` keeps (at city size each document's own copies were ~20 MB more, resident)
        pool: dict[str, str] = {}
        try:
            for k, chunk in enumerate(chunks):
                started = time.perf_counter()
                facts = await (loading or self.projections.load_facts(period, chunk, reviews=reviews))
                loading = None
                if k + 1 < len(chunks):
                    loading = asyncio.create_task(
                        self.projections.load_facts(period, chunks[k + 1], reviews=reviews)
                    )
                # an institution the registry never announced (only events naming it) is not scored
                known = [i for i in chunk if i in facts.institutions]
                rs = self.in_force.get(str(period), self.ruleset)
                result = await asyncio.to_thread(_scored, facts, period, rs, known, today)
                if writing is not None:
                    n, docs = await writing
                    changed += n
                    rank_docs.extend(ranks.shared(d, pool) for d in docs)
                writing = asyncio.create_task(store_scores(self.models, result, facts, self.clock.now(), trigger))
                SCORING_SECONDS.labels(trigger.split(":")[0]).observe(time.perf_counter() - started)
            if writing is not None:
                n, docs = await writing
                changed += n
                rank_docs.extend(ranks.shared(d, pool) for d in docs)
                writing = None
        finally:
            for task in (loading, writing):
                if task is not None and not task.done():
                    task.cancel()
            await asyncio.gather(*(t for t in (loading, writing) if t is not None), return_exceptions=True)
        await self.refresh_overview(str(period), rank_docs)
        return changed

    async def replay(self, period: Period, institution_id: str, version: str | None) -> dict[str, Any]:
        """Score one institution's period with another ruleset version, without storing it."""
        rs = self.ruleset_version(version)
        closed = await self.models.period(str(period))
        received_by = closed.get("closed_at") if closed and closed.get("status") == "closed" else None
        facts = await self.projections.load_facts(period, [institution_id], received_by)
        today = local_day(received_by or self.clock.now())
        card = score_period(facts, period, rs, [institution_id], today=today).institutions[0]
        body = card.as_dict() | {"branches": [b.as_dict() for b in card.branches]}
        current = await self.models.score(str(period), "institution", institution_id)
        stored = await self.models.computation(current["computation_id"]) if current else None
        return {
            "replay": body,
            "digest": card.digest(),
            "changes": explain(stored["card"], body) if stored else None,
        }

    async def refresh_overview(self, period: str, scored: Sequence[dict[str, Any]] | None = None) -> None:
        """The quarter's overview from its rank documents. `scored`: the rank documents a rescore
        has just written; when this process holds the quarter's others as of the stored overview
        (nobody else wrote since), they are patched with these rather than read again (a round of a
        few institutions read the city's 3,000 documents and their 24,000 branch rows)."""
        from .adapters.views import build_overview

        docs = None
        if scored is not None:
            held = self.models.ranks.held(period, await self.models.overview_version(period))
            docs = held.patched(scored) if held is not None else None
        if docs is None:
            docs = await self.models.rank_documents(period)
        rejections = await self.models.rejections_by_institution(period)
        rs = self.in_force.get(period, self.ruleset)  # its levels' expectations (maturity-fair comparison)
        await self.models.save_overview(period, build_overview(period, docs, rejections, self.clock.now(), rs), docs)

    async def close_period(self, period: Period, who: Principal) -> dict[str, Any]:
        now = self.clock.now()
        if local_day(now) <= period.end:
            raise PeriodNotOver(str(period))
        if await self._is_closed(str(period)):
            raise PeriodClosed(str(period))
        await self.rescore_dirty()
        payload = PeriodClosedEvent(period=str(period), closed_at=now, closed_by=who.subject)
        if not await self.models.close_period(
            str(period),
            {"closed_at": now, "closed_by": who.subject},
            [(payload, envelope(payload, source=SOURCE))],
        ):
            raise PeriodClosed(str(period))
        await audit.record(self.models.trail, who, "period.closed", "period", str(period), now, period=str(period))
        return {"period": str(period), "status": "closed", "closed_at": now, "closed_by": who.subject}

    async def scan_lagging(self, progress: Progress | None = None) -> dict[str, int]:
        await self.rescore_dirty()
        # a meeting counts as the ruleset in force for the quarter we are in says (review states)
        review = self.in_force.get(str(Period.of_instant(self.clock.now())), self.ruleset).review
        return await LaggingScan(self.models, self.projections, self.clock, self.settings, review).run(progress)

    # -- helpers ----------------------------------------------------------------------------------
    async def _is_closed(self, period: str) -> bool:
        doc = await self.models.period(period)
        return bool(doc and doc.get("status") == "closed")

    async def _dirty_from(self, day: date, institution_ids: Sequence[str]) -> None:
        """A registry change in force from `day` rescores the open quarters from `day`'s on, but only
        the last `rescore_quarters` of them (the current one included): a member who joined in 2019
        does not rescore six years of quarters. Older quarters are rescored on demand
        (`POST /api/v1/periods/{period}/rescore`). Closed quarters are left out when written."""
        current = Period.of_instant(self.clock.now())
        horizon = current
        for _ in range(max(self.settings.rescore_quarters, 1) - 1):
            horizon = horizon.previous()
        first = max(min(Period.of_day(day), current), horizon)
        for p in periods_between(first, current, limit=max(self.settings.rescore_quarters, 1)):
            self._dirty.setdefault(str(p), set()).update(institution_ids)

    async def end_batch(self) -> None:
        """The consumer's end of a batch, before it commits: store the activity events the batch
        brought, then the rescore queue entries the handlers collected (kept for the next try if a
        write fails). The closed periods are read once for the batch."""
        if not (self._activities or self._registry or self._dirty or self._unlocked):
            return
        closed = await self.models.closed_periods()
        await self.flush_activities(closed)
        pending, self._dirty = self._dirty, {}
        unlocked, self._unlocked = self._unlocked, {}
        try:
            if pending:
                open_ = {p: ids for p, ids in pending.items() if p not in closed and ids}
                await self.models.mark_dirty_many(open_, self.clock.now())
            if unlocked:
                await self.models.mark_dirty_many(unlocked, self.clock.now(), unlocked=True)
            if pending or unlocked:
                self.queued.set()
        except BaseException:
            for p, ids in pending.items():
                self._dirty.setdefault(p, set()).update(ids)
            for p, ids in unlocked.items():
                self._unlocked.setdefault(p, set()).update(ids)
            raise


def unlocked(granted: Sequence[dict[str, Any]], doc: dict[str, Any], institution_id: str, now: datetime) -> bool:
    """Whether an unlock exception of a closed period, for the report's branch or for
    `institution_id`, was in force when the report arrived (activity let it in for that reason)."""
    arrived = doc.get("received_at") or now
    arrived = arrived if arrived.tzinfo else arrived.replace(tzinfo=UTC)
    for u in granted:
        if u.get("organization_id") not in (None, doc.get("organization_id")):
            continue
        if u.get("organization_id") is None and u.get("institution_id") != institution_id:
            continue
        start, until, revoked = (_utc(u.get(k)) for k in ("granted_at", "until", "revoked_at"))
        if (start is None or start <= arrived) and until is not None and arrived < until and (
            revoked is None or arrived < revoked
        ):
            return True
    return False


def _utc(at: datetime | None) -> datetime | None:
    return None if at is None else at if at.tzinfo else at.replace(tzinfo=UTC)


def _scored(
    facts: PeriodFacts, period: Period, rs: Ruleset, institution_ids: list[str], today: date | None = None
) -> PeriodScores:
    """Score a chunk and render its cards (their digests and stored forms are cached on them): the
    CPU-heavy part of a rescore, run in a thread."""
    result = score_period(facts, period, rs, institution_ids, today=today)
    for card in (*result.branches, *result.institutions):
        card.digest()
    return result


def _roll_change(p: EventPayload, e: CloudEvent) -> tuple[RollChange, str, list[str]]:
    if isinstance(p, reg.MemberRegistered):
        return (
            RollChange(e.id, p.joined_at, "registered", p.organization_id, p.status.value, p.pocket),
            p.member_id,
            [p.institution_id],
        )
    if isinstance(p, reg.MemberStatusChanged):
        return (
            RollChange(e.id, p.effective_at, "status", p.organization_id, p.status.value, p.pocket),
            p.member_id,
            [p.institution_id],
        )
    if isinstance(p, reg.MemberLeft):
        return RollChange(e.id, p.left_at, "left"), p.member_id, [p.institution_id]
    assert isinstance(p, reg.TransferAccepted)
    return (
        RollChange(e.id, p.effective_at, "transfer", p.to_organization_id, p.status.value),
        p.member_id,
        sorted({p.institution_id, p.to_institution_id}),
    )


def activity_document(p: EventPayload, e: CloudEvent, now: datetime) -> dict[str, Any]:
    """The stored form of an accepted activity event, with the period it counts in."""
    received = e.receivedat or now
    doc: dict[str, Any] = {
        "_id": e.id,
        "type": e.type,
        "institution_id": e.institutionid,
        "reporting_level": e.reportinglevel,
        "channel": e.channel,
        "received_at": received,
        "late": bool(e.late),
        "flags": e.flags,
        "supersedes": e.supersedes,
        # what an officer opens from the evidence: what it said, when and how it came
        "source": e.source,
        "time": e.time,
        "data": e.data,
        "provenance": {"batch_id": e.batchid, "file_name": e.filename, "row": e.sourcerow},
        "filed_by": e.filedby,  # who filed it; `on_behalf_of` the branch a superior filed it for (上级代办)
        "on_behalf_of": e.onbehalfof,
    }
    if isinstance(p, act.MeetingHeld):
        day = local_day(p.held_at)
        doc |= {
            "organization_id": p.organization_id,
            "kind": p.meeting_kind.value,
            "held_on": day.isoformat(),
            "held_at": p.held_at,
            "attendees": len(set(p.attendee_ids)),
            "attendee_ids": sorted(set(p.attendee_ids)),  # who: the roll on the day decides who counts
            "expected": p.expected_count,
        }
    elif isinstance(p, act.LearningCompleted):
        day = p.date
        doc |= {"member_id": p.member_id, "day": day.isoformat(), "minutes": p.minutes}
    elif isinstance(p, act.DuesPaid):
        day = month_window(p.month).start
        doc |= {"member_id": p.member_id, "month": p.month, "amount_cny": p.amount_cny}
    elif isinstance(p, act.PublicActivityHeld):
        day = local_day(p.held_at)
        doc |= {
            "organization_id": p.organization_id,
            "kind": p.kind,
            "held_on": day.isoformat(),
            "participant_ids": sorted(set(p.participant_ids)),
            "hours": p.hours,
        }
    elif isinstance(p, act.ComplianceIncidentReported):
        day = local_day(p.occurred_at)
        doc |= {
            "institution_id": p.institution_id,
            "severity": p.severity.value,
            "occurred_on": day.isoformat(),
        }
    else:
        assert isinstance(p, act.SocialContributionReported)
        day = Period.parse(p.period).start
        doc |= {
            "institution_id": p.institution_id,
            "tax_paid_cny": p.tax_paid_cny,
            "volunteer_hours": p.volunteer_hours,
        }
    doc["period"] = str(Period.of_day(day))
    return doc


def event_handlers(ev: Evaluation) -> dict[type[EventPayload], Callable[[Any, CloudEvent], Any]]:
    """The service's behaviour on events, in one table."""
    return {
        reg.InstitutionRegistered: ev.on_institution,
        reg.InstitutionReclassified: ev.on_institution,
        reg.OrganizationOpened: ev.on_organization_opened,
        reg.OrganizationUpdated: ev.on_organization_updated,
        reg.OrganizationClosed: ev.on_organization_closed,
        reg.MemberRegistered: ev.on_roll_change,
        reg.MemberStatusChanged: ev.on_roll_change,
        reg.MemberLeft: ev.on_roll_change,
        reg.TransferAccepted: ev.on_roll_change,
        act.MeetingHeld: ev.on_activity,
        act.LearningCompleted: ev.on_activity,
        act.DuesPaid: ev.on_activity,
        act.PublicActivityHeld: ev.on_activity,
        act.ComplianceIncidentReported: ev.on_activity,
        act.SocialContributionReported: ev.on_activity,
        act.SubmissionRejected: ev.on_rejected,
        act.SubmissionApproved: ev.on_review,
        act.SubmissionReturned: ev.on_review,
        act.SubmissionResubmitted: ev.on_review,
        note.DeliveryStatusChanged: ev.on_delivery,
    }
