"""Scoring as use cases: rescore what the queue holds or a whole quarter, replay one institution
with another ruleset, refresh the quarter's overview, close a period, scan for lagging branches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.evaluation import PeriodClosed as PeriodClosedEvent
from alliance_shared.jobs import Progress
from prometheus_client import Histogram

from ..adapters import ranks
from ..adapters.scorebook import SOURCE, store_scores
from ..adapters.views import build_overview
from ..domain.changes import explain
from ..domain.errors import PeriodClosed, PeriodNotOver
from ..domain.facts import PeriodFacts
from ..domain.periods import Period, local_day
from ..domain.ruleset import Ruleset
from ..domain.scoring import PeriodScores, score_period
from . import audit
from .lagging_scan import LaggingScan
from .unit import EvaluationUnit

SCORING_SECONDS = Histogram(
    "alliance_scoring_seconds", "Time to load, score and store one chunk of institutions", ["trigger"]
)


async def rescore_dirty(unit: EvaluationUnit) -> int:
    """Rescore what the queue holds (see `_rescore_dirty`)."""
    async with unit.lock:  # the queue loop, a scan and a close may all drain at once
        return await _rescore_dirty(unit)


async def _rescore_dirty(unit: EvaluationUnit) -> int:
    """Drain the queue in one round: each open period once, for all its dirty institutions, the
    newest period first (the quarter the dashboard opens on is ready soonest). A burst of events
    is one rescore per period, whatever its size (the loop in `entrypoints.schedule` waits for
    the burst to end)."""
    entries = await unit.models.dirty(limit=unit.settings.rescore_queue_limit)
    closed = await unit.models.closed_periods()
    by_period: dict[str, set[str]] = {}
    for entry in entries:
        # a closed quarter only for the institutions a report admitted under an unlock exception named
        if entry["period"] not in closed or entry.get("unlocked"):
            by_period.setdefault(entry["period"], set()).add(entry["institution_id"])
    changed = 0
    for period, ids in sorted(by_period.items(), reverse=True):
        changed += await _rescore(
            unit, Period.parse(period), sorted(ids), trigger="unlock" if period in closed else "events",
            closed_ok=period in closed,
        )  # fmt: skip
    await unit.models.clean(entries)
    return changed


async def rescore(
    unit: EvaluationUnit, period: Period, institution_ids: Sequence[str] | None = None, *, trigger: str = "manual"
) -> int:
    """Score the period for these institutions (all of them when none are named) and store the cards."""
    async with unit.lock:  # one scorer at a time: score documents are replaced, not updated
        return await _rescore(unit, period, institution_ids, trigger=trigger)


async def _rescore(
    unit: EvaluationUnit, period: Period, institution_ids: Sequence[str] | None = None, *, trigger: str = "manual",
    closed_ok: bool = False,
) -> int:  # fmt: skip
    if not closed_ok and await unit.is_closed(str(period)):
        raise PeriodClosed(str(period))
    ids = (
        list(institution_ids)
        if institution_ids is not None
        else await unit.projections.institutions_to_score()
    )
    await unit.models.ensure_ranks(str(period))
    size = unit.settings.rescore_chunk
    chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
    reviews = await unit.projections.reviews(period)
    # chunk by chunk: only the facts of the chunks in the pipeline are held, never the quarter's
    changed = 0
    today = local_day(unit.clock.now())  # an open quarter is judged on what is due by today
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
            facts = await (loading or unit.projections.load_facts(period, chunk, reviews=reviews))
            loading = None
            if k + 1 < len(chunks):
                loading = asyncio.create_task(
                    unit.projections.load_facts(period, chunks[k + 1], reviews=reviews)
                )
            # an institution the registry never announced (only events naming it) is not scored
            known = [i for i in chunk if i in facts.institutions]
            rs = unit.ruleset_for(str(period))
            result = await asyncio.to_thread(_scored, facts, period, rs, known, today)
            if writing is not None:
                n, docs = await writing
                changed += n
                rank_docs.extend(ranks.shared(d, pool) for d in docs)
            writing = asyncio.create_task(store_scores(unit.models, result, facts, unit.clock.now(), trigger))
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
    await refresh_overview(unit, str(period), rank_docs)
    return changed


async def replay(
    unit: EvaluationUnit, period: Period, institution_id: str, version: str | None
) -> dict[str, Any]:
    """Score one institution's period with another ruleset version, without storing it."""
    rs = unit.ruleset_version(version)
    closed = await unit.models.period(str(period))
    received_by = closed.get("closed_at") if closed and closed.get("status") == "closed" else None
    facts = await unit.projections.load_facts(period, [institution_id], received_by)
    today = local_day(received_by or unit.clock.now())
    card = score_period(facts, period, rs, [institution_id], today=today).institutions[0]
    body = card.as_dict() | {"branches": [b.as_dict() for b in card.branches]}
    current = await unit.models.score(str(period), "institution", institution_id)
    stored = await unit.models.computation(current["computation_id"]) if current else None
    return {
        "replay": body,
        "digest": card.digest(),
        "changes": explain(stored["card"], body) if stored else None,
    }


async def refresh_overview(
    unit: EvaluationUnit, period: str, scored: Sequence[dict[str, Any]] | None = None
) -> None:
    """The quarter's overview from its rank documents. `scored`: the rank documents a rescore
    has just written; when this process holds the quarter's others as of the stored overview
    (nobody else wrote since), they are patched with these rather than read again (a round of a
    few institutions read the city's 3,000 documents and their 24,000 branch rows)."""
    docs = None
    if scored is not None:
        held = unit.models.ranks.held(period, await unit.models.overview_version(period))
        docs = held.patched(scored) if held is not None else None
    if docs is None:
        docs = await unit.models.rank_documents(period)
    rejections = await unit.models.rejections_by_institution(period)
    rs = unit.ruleset_for(period)  # its levels' expectations (maturity-fair comparison)
    await unit.models.save_overview(period, build_overview(period, docs, rejections, unit.clock.now(), rs), docs)


async def close_period(unit: EvaluationUnit, period: Period, who: Principal) -> dict[str, Any]:
    now = unit.clock.now()
    if local_day(now) <= period.end:
        raise PeriodNotOver(str(period))
    if await unit.is_closed(str(period)):
        raise PeriodClosed(str(period))
    await rescore_dirty(unit)
    payload = PeriodClosedEvent(period=str(period), closed_at=now, closed_by=who.subject)
    if not await unit.models.close_period(
        str(period),
        {"closed_at": now, "closed_by": who.subject},
        [(payload, envelope(payload, source=SOURCE))],
    ):
        raise PeriodClosed(str(period))
    await audit.record(unit.models.trail, who, "period.closed", "period", str(period), now, period=str(period))
    return {"period": str(period), "status": "closed", "closed_at": now, "closed_by": who.subject}


async def scan_lagging(unit: EvaluationUnit, progress: Progress | None = None) -> dict[str, int]:
    await rescore_dirty(unit)
    # a meeting counts as the ruleset in force for the quarter we are in says (review states)
    review = unit.ruleset_for(str(Period.of_instant(unit.clock.now()))).review
    return await LaggingScan(unit.models, unit.projections, unit.clock, unit.settings, review).run(progress)


def _scored(
    facts: PeriodFacts, period: Period, rs: Ruleset, institution_ids: list[str], today: date | None = None
) -> PeriodScores:
    """Score a chunk and render its cards (their digests and stored forms are cached on them): the
    CPU-heavy part of a rescore, run in a thread."""
    result = score_period(facts, period, rs, institution_ids, today=today)
    for card in (*result.branches, *result.institutions):
        card.digest()
    return result
