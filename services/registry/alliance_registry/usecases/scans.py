"""The registry's long work as jobs (alliance_shared.jobs): the overdue-transfer scan, asked for by
the secretariat, answers 202 with its status URL at once (a request while today's scan runs joins
it); the scheduler's own scan (entrypoints/scheduler.py) still runs in place."""

from __future__ import annotations

from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Forbidden
from alliance_shared.jobs import Jobs, Progress, Work

from ..domain import commands
from ..handlers import handle
from .context import RegistryUnit

OVERDUE_TRANSFER_SCAN = "overdue_transfer_scan"


def works(reg: RegistryUnit) -> dict[str, Work]:
    """What each kind of job runs, given its document (key: the alliance's day) and its progress."""

    async def overdue_transfers(job: dict[str, Any], progress: Progress) -> dict[str, Any]:
        # the secretariat user who asked (checked when the job started; a replica adopting it runs it as them)
        who = Principal(subject=job["requested_by"], role=Role.SECRETARIAT)
        return {"announced": await handle(reg, commands.ScanOverdueTransfers(progress=progress), who)}

    return {OVERDUE_TRANSFER_SCAN: overdue_transfers}


async def start_overdue_transfer_scan(reg: RegistryUnit, jobs: Jobs, who: Principal) -> dict[str, Any]:
    """The job scanning for overdue transfers today, started or joined; the secretariat only."""
    if not who.is_secretariat:
        raise Forbidden("需要秘书处角色 / requires the secretariat role")
    job, _ = await jobs.start(OVERDUE_TRANSFER_SCAN, reg.today().isoformat(), who.subject)
    return job
