"""Background loops: drain the rescore queue (new and late events) and run the lagging scan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from alliance_shared.runtime import Runtime, every

from ..usecases import scoring
from ..usecases.unit import EvaluationUnit

log = logging.getLogger(__name__)


class RescoreQueue:
    """When the loop drains the rescore queue: at once while it names few (period, institution)
    pairs (`rescore_at_once`: a live stream's events, whose scores should show within seconds; each
    round scores what the batches marked while the previous one ran); a larger queue once it has
    stopped growing for one look (a burst of registry or activity events — a member import, a
    quarter's upload — is scored once, after it), and at the latest `rescore_max_wait_s` after it
    was first seen waiting, so a steady stream is still scored every so often.

    No rest between rounds: the store answers queries in parallel and the round scores in a thread,
    so the consumers keep their pace while it runs (`bench/evaluation_rescore.py` times a write and
    a read every 100 ms during the quarter's rescore); a rest only delayed the next events' scores."""

    def __init__(self, ev: EvaluationUnit, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ev = ev
        self._monotonic = monotonic
        self._seen: tuple[int, Any] | None = None  # (entries, newest mark) at the last look
        self._waiting_since: float | None = None

    async def look(self) -> int:
        """One look at the queue; returns the number of score cards changed (0 when it waited)."""
        entries = await self._ev.models.dirty(limit=self._ev.settings.rescore_queue_limit)
        if not entries:
            self._seen = self._waiting_since = None
            return 0
        if len({(e["period"], e["institution_id"]) for e in entries}) <= self._ev.settings.rescore_at_once:
            self._seen = self._waiting_since = None
            return await scoring.rescore_dirty(self._ev)
        now = self._monotonic()
        if self._waiting_since is None:
            self._waiting_since = now
        seen = (len(entries), max(e["at"] for e in entries))
        settled = seen == self._seen
        self._seen = seen
        if not settled and now - self._waiting_since < self._ev.settings.rescore_max_wait_s:
            return 0
        self._seen = self._waiting_since = None
        return await scoring.rescore_dirty(self._ev)

    @property
    def waiting(self) -> bool:
        """A burst is being waited out (the loop looks again after its interval, not per batch)."""
        return self._waiting_since is not None


def loops(ev: EvaluationUnit) -> list[Callable[[Runtime], Awaitable[None]]]:
    queue = RescoreQueue(ev)

    async def rescore_queue(_: Runtime) -> None:
        """Look when a consumer batch queued rescores (or every `rescore_interval_s`: another
        replica's marks, a failed round); while a burst is waited out, every interval only."""
        while True:
            ev.queued.clear()
            try:
                await queue.look()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic task rescore-queue failed")
            if queue.waiting:
                await asyncio.sleep(ev.settings.rescore_interval_s)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.queued.wait(), ev.settings.rescore_interval_s)

    async def lagging_scan(_: Runtime) -> None:
        await asyncio.sleep(ev.settings.lagging_scan_interval_s)  # not at start-up: a restart is no reason
        await every(ev.settings.lagging_scan_interval_s, lambda: scoring.scan_lagging(ev), name="lagging-scan")

    return [rescore_queue, lagging_scan]
