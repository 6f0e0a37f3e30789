"""Background loops: drain the rescore queue (new and late events) and run the lagging scan."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from alliance_shared.runtime import Runtime, every

from ..handlers import Evaluation


def loops(ev: Evaluation) -> list[Callable[[Runtime], Awaitable[None]]]:
    async def rescore_queue(_: Runtime) -> None:
        await every(ev.settings.rescore_interval_s, ev.rescore_dirty, name="rescore-queue")

    async def lagging_scan(_: Runtime) -> None:
        await asyncio.sleep(ev.settings.lagging_scan_interval_s)  # not at start-up: a restart is no reason
        await every(ev.settings.lagging_scan_interval_s, ev.scan_lagging, name="lagging-scan")

    return [rescore_queue, lagging_scan]
