"""The scores workbook of a quarter (every institution's and branch's card, with breakdowns), in
the answer or as a job. The dashboard's per-table exports are in `dashboard.api`."""

from __future__ import annotations

from typing import Any

from alliance_shared.http import CurrentUser
from alliance_shared.job_routes import JOB_ANSWER, JobsDep, job_answer
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from .api import Ev, period_of, scope
from .dashboard import exports
from .dashboard.api import XLSX, attachment

router = APIRouter(prefix="/api/v1", tags=["evaluation"])
WORKBOOK: dict[int | str, dict[str, Any]] = {200: {"content": {XLSX: {}}, "description": "工作簿 / the workbook"}}


def _asked(who: Any, period: str, institution_id: str | None) -> dict[str, Any]:
    return {"table": "scores", "period": period_of(period), "institution_id": scope(who, institution_id)}


@router.get("/exports/{period}.xlsx", response_class=Response, responses=WORKBOOK)
async def get_export(who: CurrentUser, ev: Ev, period: str, institution_id: str | None = None) -> Response:
    """季度评分工作簿 / the quarter's scores and breakdowns as a workbook, in the answer (the city's:
    better as a job, `POST` the same URL)."""
    body, file_name = await exports.workbook_file(ev, _asked(who, period, institution_id))
    return attachment(body, file_name)


@router.post("/exports/{period}.xlsx", status_code=202, responses={202: JOB_ANSWER})
async def post_export(who: CurrentUser, jobs: JobsDep, period: str, institution_id: str | None = None) -> JSONResponse:
    """季度评分工作簿，作为任务 / the same workbook as a job: 202 with its status URL; its result's
    `download_url` serves the file to whoever asked."""
    asked = _asked(who, period, institution_id)
    job, _ = await jobs.start(exports.EXPORT_JOB, exports.job_key(asked, who.subject), who.subject, asked)
    return await job_answer(jobs, job, wait=False)
