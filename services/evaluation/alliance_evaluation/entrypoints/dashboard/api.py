"""The dashboard's own API (`/api/v1/dashboard/...`): trend, peer-group rankings, heat map, the
work queue and its follow-up records, and an XLSX export of every table. Thin routes: the same
access rule as the unified view (secretariat and regulators read everything, anyone else only
their own institution), enforced here on every call."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from alliance_shared.errors import Forbidden, Invalid, NotFound
from alliance_shared.http import CurrentUser, Page
from alliance_shared.job_routes import JOB_ANSWER, JobsDep, job_answer
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from ...adapters import dashboard_views
from ...adapters.export_files import ExportFiles
from ...domain import peers
from ...domain.periods import Period, local_day
from ...usecases.follow_ups import RecordFollowUp, record_follow_up
from ..api import READ_ALL, Ev, period_of, require_reader, scope
from ..schemas import AttachedBranches, DataQuality, FollowUpSaved, HeatMap, Me, PeerRanking, Periods, Trend, WorkQueue
from . import exports

router = APIRouter(prefix="/api/v1/dashboard", tags=["dashboard"])

PageSize = Annotated[int, Query(ge=1, le=200)]
Level = Literal["institution", "branch"]
Sort = Literal["score", "name", "completeness", "timeliness", "object_id"]
Table = Literal["overview", "trend", "rankings", "institution", "queue", "heatmap"]
HeatSpan = Annotated[
    Literal["quarter", "trailing_12"],
    Query(
        description="热力图月份：quarter 为所选季度的三个月（默认），trailing_12 为截至该季度末的近12个月"
        " / months shown: the quarter's (default) or the 12 ending with it"
    ),
]
Grouping = Annotated[
    peers.Grouping,
    Query(description="同类组：默认按所有制，可再按行业、上报成熟度细分；all 为全部机构（不分组）/ peer group"),
]


@router.get("/me", response_model=Me)
async def get_me(who: CurrentUser, ev: Ev) -> dict[str, Any]:
    names = await ev.projections.names("institutions", [who.institution_id]) if who.institution_id else {}
    return {
        "subject": who.subject,
        "role": who.role.value if who.role else None,
        "institution_id": who.institution_id,
        "institution_name": names.get(who.institution_id) if who.institution_id else None,
        "reads_all": who.role in READ_ALL,
    }


@router.get("/periods", response_model=Periods)
async def get_periods(who: CurrentUser, ev: Ev) -> dict[str, Any]:
    now = ev.clock.now()
    return {"current": str(Period.of_instant(now)), "periods": await dashboard_views.periods(ev.models, local_day(now))}


@router.get("/trend", response_model=Trend)
async def get_trend(
    who: CurrentUser,
    ev: Ev,
    period: str,
    quarters: Annotated[int, Query(ge=2, le=12)] = 6,
    institution_id: str | None = None,
) -> dict[str, Any]:
    scoped = scope(who, institution_id)
    if scoped:
        return await dashboard_views.institution_trend(ev.models, period_of(period), scoped, quarters)
    return await dashboard_views.trend(ev.models, period_of(period), quarters)


def peer_of(ownership: str | None, sector: str | None, reporting_level: str | None) -> dict[str, Any]:
    return {
        k: v
        for k, v in (("ownership", ownership), ("sector", sector), ("reporting_level", reporting_level))
        if v
    }


@router.get("/rankings", response_model=PeerRanking)
async def get_rankings(
    who: CurrentUser,
    ev: Ev,
    period: str,
    level: Level = "institution",
    ownership: str | None = None,
    sector: str | None = None,
    reporting_level: str | None = None,
    institution_id: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    sort: Sort = "score",
    order: Literal["asc", "desc"] = "desc",
    grouping: Grouping = peers.DEFAULT_GROUPING,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    peer = peer_of(ownership, sector, reporting_level)
    scoped = scope(who, institution_id)
    if scoped:
        peer["institution_ids"] = scoped
    return await dashboard_views.rankings(
        ev.models, period_of(period), level, peer, q, sort, order == "desc", page, page_size, grouping
    )


@router.get("/heatmap", response_model=HeatMap)
async def get_heatmap(
    who: CurrentUser,
    ev: Ev,
    period: str,
    institution_id: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Page = 1,
    page_size: PageSize = 30,
    span: HeatSpan = "quarter",
) -> dict[str, Any]:
    return await dashboard_views.heatmap(
        ev.models, ev.projections, period_of(period), scope(who, institution_id), q, page, page_size, span
    )


@router.get("/queue", response_model=WorkQueue)
async def get_queue(
    who: CurrentUser,
    ev: Ev,
    institution_id: str | None = None,
    status: Literal["lagging", "at_risk"] | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    return await dashboard_views.work_queue(
        ev.models, ev.projections, scope(who, institution_id), status, page, page_size
    )


@router.get("/data-quality", response_model=DataQuality)
async def get_data_quality(
    who: CurrentUser,
    ev: Ev,
    period: str,
    institution_id: str,
    flag: Annotated[str | None, Query(max_length=64, description="只列出带此标记的事件 / only this flag")] = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    """数据质量：本机构本期被标记的事件，按标记类别计数，并列出事件 / the institution's flagged events by kind."""
    require_reader(who, [institution_id])
    return await dashboard_views.data_quality(ev.projections, period_of(period), institution_id, flag, page, page_size)


@router.get("/attached-branches", response_model=AttachedBranches, response_model_exclude_unset=True)
async def get_attached_branches(who: CurrentUser, ev: Ev, period: str, institution_id: str) -> dict[str, Any]:
    """挂靠于本机构党组织的其他机构支部（挂靠党支部）/ branches of other institutions attached to this
    institution's committees or general branches."""
    require_reader(who, [institution_id])
    return await dashboard_views.attached_branches(
        ev.models, ev.projections, period_of(period), institution_id, who.role in READ_ALL
    )


@router.put("/queue/{organization_id}/follow-up", response_model=FollowUpSaved)
async def put_follow_up(
    who: CurrentUser, ev: Ev, organization_id: str, body: RecordFollowUp
) -> dict[str, Any]:
    return await record_follow_up(ev, who, organization_id, body)


async def export_asked(
    who: CurrentUser,
    table: Table,
    period: str,
    level: Level = "institution",
    ownership: str | None = None,
    sector: str | None = None,
    reporting_level: str | None = None,
    institution_id: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    status: Literal["lagging", "at_risk"] | None = None,
    grouping: Grouping = peers.DEFAULT_GROUPING,
    span: HeatSpan = "quarter",
) -> dict[str, Any]:
    """An export's query, authorized (the same rule as the table's screen) and resolved: the
    arguments of `exports.workbook`, as a job keeps them."""
    p = period_of(period)
    if table in ("overview", "trend") and not institution_id:
        who.require_role(*READ_ALL)
    if table == "institution":
        if not institution_id:
            raise Invalid("请指定机构 / institution_id is required", field="institution_id")
        require_reader(who, [institution_id])
        scoped: str | None = institution_id
    else:
        scoped = scope(who, institution_id)
    return {"table": table, "period": p, "level": level, "peer": peer_of(ownership, sector, reporting_level),
            "institution_id": scoped, "q": q, "status": status, "grouping": grouping, "span": span}


Asked = Annotated[dict[str, Any], Depends(export_asked)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WORKBOOK: dict[str, Any] = {"content": {XLSX: {}}, "description": "工作簿 / the workbook"}


def attachment(body: bytes, file_name: str) -> Response:
    return Response(body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{file_name}"'})


@router.get("/exports/{table}.xlsx", response_class=Response, responses={200: WORKBOOK})
async def get_export(ev: Ev, asked: Asked) -> Response:
    """表格导出（同步）/ the table as a workbook, in the answer. A large table (the city's branches)
    is better asked for as a job: `POST` the same URL."""
    body, file_name = await exports.workbook_file(ev, asked)
    return attachment(body, file_name)


@router.post("/exports/{table}.xlsx", status_code=202, responses={202: JOB_ANSWER})
async def post_export(who: CurrentUser, jobs: JobsDep, asked: Asked) -> JSONResponse:
    """导出为任务 / the export as a job: 202 with its status URL at once; once it has succeeded, its
    result's `download_url` serves the workbook to whoever asked (for `JOBS_KEEP_DAYS`). The same
    export asked again while it runs joins it."""
    job, _ = await jobs.start(exports.EXPORT_JOB, exports.job_key(asked, who.subject), who.subject, asked)
    return await job_answer(jobs, job, wait=False)


@router.get("/exports/files/{job_id}", response_class=Response, responses={200: WORKBOOK})
async def get_export_file(who: CurrentUser, request: Request, job_id: str) -> Response:
    """导出任务生成的工作簿 / the workbook an export job made, for whoever asked for it."""
    files: ExportFiles = request.app.state.export_files
    doc = await files.get(job_id)
    if not who.is_secretariat and (doc is None or doc.get("requested_by") != who.subject):
        raise Forbidden("无权下载他人的导出 / not your export", field="job_id")
    if doc is None:
        raise NotFound("导出文件不存在或已过期 / no such export file, or it has expired", field="job_id")
    return attachment(bytes(doc["body"]), doc["name"])
