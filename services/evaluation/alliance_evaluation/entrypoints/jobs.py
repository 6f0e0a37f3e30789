"""Long requests as jobs: the lagging scan and a quarter's rescore answer 202 with their status URL at
once (a request while one runs for the same quarter joins it), and `GET /api/v1/jobs/{id}` says how
far it got and how it ended. `?wait=true` keeps the old answer (the result, once done) for the
clients that want it."""

from __future__ import annotations

from typing import Annotated, Any

from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import DomainError
from alliance_shared.http import CurrentUser
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from ..domain.errors import PeriodClosed, UnknownJob
from ..domain.periods import Period
from ..handlers import Evaluation
from ..jobs import Jobs, Progress, Work, public
from .api import Ev

router = APIRouter(prefix="/api/v1", tags=["jobs"])

LAGGING_SCAN = "lagging_scan"
RESCORE = "rescore"


def jobs_of(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


JobsDep = Annotated[Jobs, Depends(jobs_of)]


class JobFailed(DomainError):
    """A job that ended in failure, answered to a client that waited for it as the job recorded it."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message") or "任务失败 / the job failed", field=error.get("field"),
                         code=error.get("code") or "job_failed")
        self.status = int(error.get("status") or 503)


JOB_ANSWER = {"description": "任务（状态、进度、结果或错误）/ the job: state, progress, result or error"}
Wait = Annotated[bool, Query(description="等待任务结束并返回其结果 / wait, then answer the job's result")]


def works(ev: Evaluation) -> dict[str, Work]:
    """What each kind of job runs, given its document (key: the quarter) and its progress."""

    async def scan(job: dict[str, Any], progress: Progress) -> dict[str, Any]:
        return dict(await ev.scan_lagging(progress))

    async def rescore(job: dict[str, Any], progress: Progress) -> dict[str, Any]:
        changed = await ev.rescore(Period.parse(job["key"]), trigger=f"manual:{job['requested_by']}")
        return {"period": job["key"], "changed": changed}

    return {LAGGING_SCAN: scan, RESCORE: rescore}


async def answer(jobs: Jobs, job: dict[str, Any], wait: bool) -> JSONResponse:
    """202 with the job and its URL; with `wait`, its result once it has ended (its error if it failed)."""
    if wait:
        done = await jobs.wait(job["_id"]) or job
        if done["state"] != "succeeded":
            raise JobFailed(done.get("error") or {})
        return JSONResponse(done["result"])
    return JSONResponse(public(job), status_code=202, headers={"Location": f"/api/v1/jobs/{job['_id']}"})


@router.post("/scans/lagging", status_code=202,
             responses={202: JOB_ANSWER, 200: {"description": "wait=true：扫描结果计数 / the scan's counts"}})
async def post_scan(who: CurrentUser, ev: Ev, jobs: JobsDep, wait: Wait = False) -> JSONResponse:
    """秘书处：立即运行落后支部扫描 / secretariat: run the lagging scan now, as a job (202, Location)."""
    who.require_role(Role.SECRETARIAT)
    job, _ = await jobs.start(LAGGING_SCAN, str(Period.of_instant(ev.clock.now())), who.subject)
    return await answer(jobs, job, wait)


@router.post("/periods/{period}/rescore", status_code=202,
             responses={202: JOB_ANSWER, 200: {"description": "wait=true：{period, changed}"}})
async def post_rescore(who: CurrentUser, ev: Ev, jobs: JobsDep, period: str, wait: Wait = False) -> JSONResponse:
    """秘书处：重新计算一个季度的评分 / secretariat: rescore a quarter, as a job (202, Location)."""
    who.require_role(Role.SECRETARIAT)
    quarter = str(Period.parse(period))
    if ((await ev.models.period(quarter)) or {}).get("status") == "closed":
        raise PeriodClosed(quarter)
    job, _ = await jobs.start(RESCORE, quarter, who.subject)
    return await answer(jobs, job, wait)


@router.get("/jobs/{job_id}", responses={200: JOB_ANSWER})
async def get_job(who: CurrentUser, jobs: JobsDep, job_id: str) -> dict[str, Any]:
    """任务状态 / a job's state, progress, result or error, and when it started and ended."""
    who.require_role(Role.SECRETARIAT)
    job = await jobs.store.get(job_id)
    if job is None:
        raise UnknownJob(job_id)
    return public(job)
