"""Jobs (alliance_shared.jobs) over HTTP: a service puts its `Jobs` on `app.state.jobs`, includes
`status_router()` (`GET /api/v1/jobs/{job_id}`, the status URL) and answers a job's request with
`job_answer`: 202, the job and its `Location` at once, or with `?wait=true` the old answer, the
job's result once it has ended, for the clients that want it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .contracts.vocabulary import Role
from .errors import DomainError, NotFound
from .http import CurrentUser
from .jobs import Doc, Jobs, public


class UnknownJob(NotFound):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"任务不存在 / unknown job {job_id!r}", field="job_id")


class JobFailed(DomainError):
    """A job that ended in failure, answered to a client that waited for it as the job recorded it."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message") or "任务失败 / the job failed", field=error.get("field"),
                         code=error.get("code") or "job_failed")
        self.status = int(error.get("status") or 503)


class JobPublic(BaseModel):
    """A job as its status URL answers it."""

    id: str
    kind: str
    key: str | None
    state: str = Field(description="queued | running | succeeded | failed | cancelled")
    progress: dict[str, Any] = Field(description="已完成 done / 共 total（未知为 null）及速率 / done of total, rate")
    result: Any = Field(None, description="成功时的结果 / the result, once succeeded")
    error: dict[str, Any] | None = Field(None, description="失败时的错误（状态、字段、原因）/ the error, once failed")
    requested_by: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    status_url: str


JOB_ANSWER: dict[str, Any] = {
    "model": JobPublic, "description": "任务（状态、进度、结果或错误）/ the job: state, progress, result or error"
}
Wait = Annotated[bool, Query(description="等待任务结束并返回其结果 / wait, then answer the job's result")]


def jobs_of(request: Request) -> Jobs:
    """The service's jobs (`app.state.jobs`), for a route's `Depends`."""
    jobs: Jobs = request.app.state.jobs
    return jobs


JobsDep = Annotated[Jobs, Depends(jobs_of)]


async def job_answer(jobs: Jobs, job: Doc, wait: bool) -> JSONResponse:
    """202 with the job and its URL (`Location`); with `wait`, its result once it has ended (its
    error, with the status it recorded, if it failed)."""
    if wait:
        done = await jobs.wait(job["_id"]) or job
        if done["state"] != "succeeded":
            raise JobFailed(done.get("error") or {})
        return JSONResponse(done["result"])
    return JSONResponse(public(job), status_code=202, headers={"Location": f"/api/v1/jobs/{job['_id']}"})


def status_router() -> APIRouter:
    """`GET /api/v1/jobs/{job_id}`: a job's state, for the secretariat and for the person who
    started it (an export); anyone else is answered as if it did not exist."""
    router = APIRouter(prefix="/api/v1", tags=["jobs"])

    @router.get("/jobs/{job_id}", response_model=JobPublic, responses={200: JOB_ANSWER})
    async def get_job(who: CurrentUser, jobs: JobsDep, job_id: str) -> dict[str, Any]:
        """任务状态 / a job's state, progress, result or error, and when it started and ended."""
        job = await jobs.store.get(job_id)
        if not who.is_secretariat and (job is None or job.get("requested_by") != who.subject):
            who.require_role(Role.SECRETARIAT)  # 403: not theirs (whether it exists is not said)
        if job is None:
            raise UnknownJob(job_id)
        return public(job)

    return router
