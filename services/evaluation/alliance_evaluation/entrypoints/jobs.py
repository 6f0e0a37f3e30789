"""Long requests as jobs: the lagging scan and a quarter's rescore answer 202 with their status URL at
once (a request while one runs for the same quarter joins it), and `GET /api/v1/jobs/{id}` says how
far it got and how it ended. `?wait=true` keeps the old answer (the result, once done) for the
clients that want it."""

from __future__ import annotations

from typing import Any

from alliance_shared.contracts.vocabulary import Role
from alliance_shared.http import CurrentUser
from alliance_shared.job_routes import JOB_ANSWER, JobsDep, Wait, job_answer
from alliance_shared.jobs import Progress, Work
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..domain.errors import PeriodClosed
from ..domain.periods import Period
from ..usecases import scoring
from ..usecases.unit import EvaluationUnit
from .api import Ev
from .schemas import LaggingScanResult, RescoreResult

router = APIRouter(prefix="/api/v1", tags=["jobs"])

LAGGING_SCAN = "lagging_scan"
RESCORE = "rescore"

SCANNED = {"model": LaggingScanResult, "description": "wait=true：扫描结果计数 / the scan's counts"}
RESCORED = {"model": RescoreResult, "description": "wait=true：重算结果 / the rescore's result"}


def works(ev: EvaluationUnit) -> dict[str, Work]:
    """What each kind of job runs, given its document (key: the quarter) and its progress."""

    async def scan(job: dict[str, Any], progress: Progress) -> dict[str, Any]:
        return dict(await scoring.scan_lagging(ev, progress))

    async def rescore(job: dict[str, Any], progress: Progress) -> dict[str, Any]:
        changed = await scoring.rescore(ev, Period.parse(job["key"]), trigger=f"manual:{job['requested_by']}")
        return {"period": job["key"], "changed": changed}

    return {LAGGING_SCAN: scan, RESCORE: rescore}


@router.post("/scans/lagging", status_code=202,
             responses={202: JOB_ANSWER, 200: SCANNED})
async def post_scan(who: CurrentUser, ev: Ev, jobs: JobsDep, wait: Wait = False) -> JSONResponse:
    """秘书处：立即运行落后支部扫描 / secretariat: run the lagging scan now, as a job (202, Location)."""
    who.require_role(Role.SECRETARIAT)
    job, _ = await jobs.start(LAGGING_SCAN, str(Period.of_instant(ev.clock.now())), who.subject)
    return await job_answer(jobs, job, wait)


@router.post("/periods/{period}/rescore", status_code=202,
             responses={202: JOB_ANSWER, 200: RESCORED})
async def post_rescore(who: CurrentUser, ev: Ev, jobs: JobsDep, period: str, wait: Wait = False) -> JSONResponse:
    """秘书处：重新计算一个季度的评分 / secretariat: rescore a quarter, as a job (202, Location)."""
    who.require_role(Role.SECRETARIAT)
    quarter = str(Period.parse(period))
    if ((await ev.models.period(quarter)) or {}).get("status") == "closed":
        raise PeriodClosed(quarter)
    job, _ = await jobs.start(RESCORE, quarter, who.subject)
    return await job_answer(jobs, job, wait)
