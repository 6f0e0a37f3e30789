"""The fault campaign's readiness watch (scripts/chaos.py): did each service's /readyz tell the truth
throughout a trial? Every second it asks each service's /readyz and reads, from the broker, how far
each of the service's consumer groups has committed on the campaign's topics. A service that
answers ready for `stall_s` seconds on end while one of its groups has a backlog and commits
nothing — a consumer that is not consuming — is a lie (issue 17: after a store restart
notification's consumer had died and /readyz kept answering 200)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

# the consumer groups of each service that must keep up while it says it is ready (activity's
# per-process key listeners read from the end and are not followed)
GROUPS: dict[str, tuple[str, ...]] = {
    "activity": ("activity-ingest", "activity-registry", "activity-periods"),
    "evaluation": ("evaluation",),
    "notification": ("notification",),
    "registry": (),
}


@dataclass
class Sample:
    at: float
    ready: bool
    backlog: int | None  # None: the broker could not be asked (not judged)
    committed: int  # the sum of the service's committed offsets on the campaign's topics


@dataclass
class Lie:
    service: str
    started: float
    seconds: float
    backlog: int


@dataclass
class ReadinessWatch:
    """Samples every service until `stop()`; `lies()` judges the samples afterwards."""

    urls: Mapping[str, str]
    bootstrap: str
    prefix: str
    interval_s: float = 1.0
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        admin: AIOKafkaAdminClient | None = None
        ends: AIOKafkaConsumer | None = None
        async with httpx.AsyncClient(timeout=3, limits=httpx.Limits(keepalive_expiry=1)) as client:
            try:
                while not self._stop.is_set():
                    started = time.monotonic()
                    if admin is None or ends is None:
                        admin, ends = await self._connect()
                    offsets = await self._offsets(admin, ends) if admin and ends else None
                    if offsets is None and admin is not None:  # reconnect after a broker restart
                        await _close(admin, ends)
                        admin = ends = None
                    for service, url in self.urls.items():
                        ready = await _ready(client, url)
                        backlog, committed = (offsets or {}).get(service, (None, 0))
                        self.samples.setdefault(service, []).append(
                            Sample(time.monotonic(), ready, backlog if offsets is not None else None, committed))
                    await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))
            finally:
                await _close(admin, ends)

    def stop(self) -> None:
        self._stop.set()

    async def _connect(self) -> tuple[AIOKafkaAdminClient | None, AIOKafkaConsumer | None]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
        ends = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, request_timeout_ms=3000)
        try:
            await asyncio.wait_for(admin.start(), timeout=5)
            await asyncio.wait_for(ends.start(), timeout=5)
            return admin, ends
        except Exception:  # the broker is down: nothing judged until it is back
            await _close(admin, ends)
            return None, None

    async def _offsets(self, admin: AIOKafkaAdminClient, ends: AIOKafkaConsumer) -> dict[str, tuple[int, int]] | None:
        """service → (backlog, committed) over its groups, or None when the broker does not answer."""
        try:
            out: dict[str, tuple[int, int]] = {}
            for service, groups in GROUPS.items():
                backlog = committed = 0
                for group in groups:
                    got = await asyncio.wait_for(admin.list_consumer_group_offsets(group), timeout=3)
                    mine = {tp: meta.offset for tp, meta in got.items() if tp.topic.startswith(self.prefix)}
                    if not mine:
                        continue
                    end = await asyncio.wait_for(ends.end_offsets(list(mine)), timeout=3)
                    backlog += sum(max(0, end[tp] - max(0, offset)) for tp, offset in mine.items())
                    committed += sum(max(0, offset) for offset in mine.values())
                out[service] = (backlog, committed)
            return out
        except Exception:  # a broker restarting, a group rebalancing: this second is not judged
            return None

    def lies(self, stall_s: float) -> list[Lie]:
        """Each stretch of at least `stall_s` in which a service answered ready on every sample
        while its groups had a backlog and committed nothing."""
        found: list[Lie] = []
        for service, samples in self.samples.items():
            start: Sample | None = None
            reported = False
            for s in samples:
                stalled = (s.ready and s.backlog is not None and s.backlog > 0
                           and (start is None or s.committed == start.committed))
                if not stalled:
                    start, reported = None, False
                    continue
                if start is None:
                    start = s
                elif not reported and s.at - start.at >= stall_s:
                    found.append(Lie(service, start.at, s.at - start.at, s.backlog or 0))
                    reported = True
                elif reported:
                    found[-1].seconds = s.at - start.at
        return found

    def summary(self) -> str:
        """What the watch saw: samples, and per service the share answered ready and the largest backlog."""
        parts = []
        for service, samples in self.samples.items():
            if samples:
                ready = sum(s.ready for s in samples) / len(samples)
                backlog = max((s.backlog or 0 for s in samples), default=0)
                parts.append(f"{service} {ready:.0%} ready, backlog ≤ {backlog}")
        count = max((len(s) for s in self.samples.values()), default=0)
        return f"{count} samples: " + ", ".join(parts)


async def _ready(client: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def _close(*clients: object) -> None:
    for c in clients:
        if c is None:
            continue
        try:
            await asyncio.wait_for(c.close() if isinstance(c, AIOKafkaAdminClient) else c.stop(),  # type: ignore[attr-defined]
                                   timeout=5)
        except Exception:
            pass
