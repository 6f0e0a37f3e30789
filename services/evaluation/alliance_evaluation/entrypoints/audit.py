"""The audit trail over HTTP (added to the contract): `GET /api/v1/audit` with filters, bounded
and paged by a cursor, and the same rows as a workbook (`GET /api/v1/audit.xlsx`). Secretariat only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from alliance_shared.http import CurrentUser
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from ..adapters.table_xlsx import table_workbook
from ..usecases import audit
from .api import Ev
from .dashboard.api import XLSX
from .schemas import AuditPage

router = APIRouter(prefix="/api/v1", tags=["audit"])

EXPORT_ROWS = 20_000  # a workbook holds at most this many records (newest first); narrow the filters for more

Text = Annotated[str | None, Query(max_length=200)]
HEADERS = [
    "时间 / at", "操作 / action", "结果 / outcome", "操作人 / actor", "角色 / role", "API 密钥 / key",
    "操作人机构 / actor's institution", "来源地址 / IP", "对象类型 / object type", "对象 / object",
    "所属机构 / institution", "期间 / period", "服务 / service", "详情 / details",
]  # fmt: skip


@dataclass(frozen=True)
class AuditQuery:
    filters: dict[str, str | None]
    since: datetime | None
    until: datetime | None


def _audit_query(
    actor: Text = None,
    action: Text = None,
    object_id: Text = None,
    institution_id: Text = None,
    object_type: Text = None,
    service: Text = None,
    outcome: Text = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditQuery:
    """The filters both the list and its workbook take, once."""
    return AuditQuery({"actor": actor, "action": action, "object_id": object_id, "institution_id": institution_id,
                       "object_type": object_type, "service": service, "outcome": outcome}, since, until)  # fmt: skip


Filters = Annotated[AuditQuery, Depends(_audit_query)]


@router.get("/audit", response_model=AuditPage)
async def get_audit(
    who: CurrentUser,
    ev: Ev,
    q: Filters,
    cursor: Text = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_LIMIT, description="每页条数，至多 500 / at most 500")] = 100,
) -> dict[str, Any]:
    """审计日志：谁、何时、做了什么、从哪里（最新在前；`next_cursor` 续页）/ the audit trail, newest first."""
    return await audit.read(ev.models.trail, who, q.filters, q.since, q.until, cursor, limit)


@router.get("/audit.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "审计日志工作簿 / the trail as a workbook"}})
async def get_audit_workbook(who: CurrentUser, ev: Ev, q: Filters) -> Response:
    rows: list[list[Any]] = []
    cursor: str | None = None
    while len(rows) < EXPORT_ROWS:
        page = await audit.read(ev.models.trail, who, q.filters, q.since, q.until, cursor, audit.MAX_LIMIT)
        rows.extend(
            [r["at"], r["action"], "拒绝 / denied" if r.get("outcome") == "denied" else "完成 / done", r["actor"],
             r.get("actor_role"), r.get("actor_key_id"), r.get("actor_institution_id"), r.get("ip"),
             r.get("object_type"), r.get("object_id"), r.get("institution_id"), r.get("period"), r.get("service"),
             r.get("details") or {}]
            for r in page["items"]
        )  # fmt: skip
        cursor = page["next_cursor"]
        if cursor is None:
            break
    body = table_workbook("审计日志 / audit trail", "审计日志", HEADERS, rows[:EXPORT_ROWS])
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="audit.xlsx"'},
    )
