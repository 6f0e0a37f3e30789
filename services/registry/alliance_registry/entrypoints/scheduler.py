"""Background loops of the registry: the overdue-transfer scan, on `runtime.every`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from alliance_shared.runtime import Runtime, every

from ..domain.commands import ScanOverdueTransfers
from ..handlers import SYSTEM, handle
from ..usecases.context import RegistryUnit


def overdue_transfer_scan(reg: RegistryUnit, interval_s: float) -> Callable[[Runtime], Awaitable[None]]:
    async def transfer_overdue_scan(_runtime: Runtime) -> None:
        async def scan() -> None:
            await handle(reg, ScanOverdueTransfers(), SYSTEM)

        await every(interval_s, scan, name="transfer-overdue-scan")

    return transfer_overdue_scan
