"""What every use case of evaluation works with (cosmicpython's unit of work): the adapters, the
ruleset in force, the clock, and the writes a consumer batch collects and stores at its end."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from alliance_shared.clock import Clock

from ..adapters.projections import Projections, RegistryWrite
from ..adapters.readmodels import ReadModels
from ..adapters.unlocks import UnlockStore
from ..domain.periods import Period, periods_between
from ..domain.ruleset import RULESET_DIR, Ruleset, load_ruleset
from ..settings import EvaluationSettings


@dataclass
class EvaluationUnit:
    """The unit of work of evaluation: its adapters (the projections of other services' events and
    its own read models), the rulesets, the clock and the settings, and what a consumer batch has
    collected and not yet written (`end_batch` writes it, before the batch is committed)."""

    projections: Projections
    models: ReadModels
    ruleset: Ruleset
    clock: Clock
    settings: EvaluationSettings
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # (period, institution) pairs the consumer's handlers found dirty since its last batch ended:
    # written by `flush_dirty` in one command per batch (a registry import dirtied the same few
    # pairs once per member, each an upsert)
    _dirty: dict[str, set[str]] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)  # accepted events not yet stored
    # the registry events' projection writes not yet applied (`flush_registry`: before anything
    # reads the projections back, and at the batch's end)
    registry_writes: list[RegistryWrite] = field(default_factory=list)
    # period → the ruleset published for it (rulesets.py keeps it current); other periods: `ruleset`
    in_force: dict[str, Ruleset] = field(default_factory=dict)
    # closed (period, institution) pairs a report admitted under an unlock exception rescores
    _unlocked: dict[str, set[str]] = field(default_factory=dict)
    # set when a batch queued rescores: the rescore loop wakes at once (a live stream's scores)
    queued: asyncio.Event = field(default_factory=asyncio.Event)
    # the unlock exceptions of closed periods, kept on the periods' own documents (`usecases.unlocks`)
    unlocks: UnlockStore | None = None

    def ruleset_version(self, version: str | None) -> Ruleset:
        if not version or version == self.ruleset.version:
            return self.ruleset
        return load_ruleset(
            version, Path(self.settings.ruleset_dir) if self.settings.ruleset_dir else RULESET_DIR
        )

    async def flush_registry(self) -> None:
        writes, self.registry_writes = self.registry_writes, []
        try:
            await self.projections.apply_registry(writes)
        except BaseException:
            self.registry_writes = writes + self.registry_writes
            raise

    async def flush_activities(self, closed: dict[str, datetime] | None = None) -> None:
        await self.flush_registry()  # an event's owners are read from the roll and the tree
        docs, self.activities = self.activities, []
        if not docs:
            return
        try:
            await self.projections.activities(docs)
            owners = await self.projections.owners_of_activities(docs)
        except BaseException:
            self.activities = docs + self.activities
            raise
        closed = closed if closed is not None else await self.models.closed_periods()
        unlocks: dict[str, list[dict[str, Any]]] = {}
        for doc in docs:
            await self.queue([doc["period"]], doc["_id"], owners[doc["_id"]], closed, doc, unlocks)

    async def queue(
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

    async def is_closed(self, period: str) -> bool:
        doc = await self.models.period(period)
        return bool(doc and doc.get("status") == "closed")

    async def dirty_from(self, day: date, institution_ids: Sequence[str]) -> None:
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
        if not (self.activities or self.registry_writes or self._dirty or self._unlocked):
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

    def ruleset_for(self, period: str) -> Ruleset:
        """The ruleset published for the period, or the service's own."""
        return self.in_force.get(period, self.ruleset)


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
