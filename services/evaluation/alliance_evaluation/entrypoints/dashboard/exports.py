"""Every dashboard table as XLSX, with the same rows the screen shows (not paginated) and
Chinese headers first."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alliance_shared.clock import SHANGHAI
from alliance_shared.contracts.vocabulary import zh
from alliance_shared.jobs import Progress, Work

from ...adapters import dashboard_views, views
from ...adapters.export_files import ExportFiles
from ...adapters.readmodels import CARD_BATCH
from ...adapters.table_xlsx import table_workbook
from ...adapters.xlsx import (
    BREAKDOWN_HEADERS,
    CARD_HEADERS,
    EVIDENCE_COUNT,
    GRADE_ZH,
    OWNERSHIP_ZH,
    ScoreWorkbook,
    breakdown_row,
)
from ...domain import peers
from ...usecases.unit import EvaluationUnit

EXPORT_LIMIT = 100_000
EXPORT_JOB = "export"
STATUS_ZH = {"lagging": "落后", "at_risk": "有风险"}
DELIVERY_ZH = {
    "queued": "排队",
    "deferred": "暂缓发送",
    "sent": "已发送",
    "delivered": "已送达",
    "failed": "失败",
    "cancelled": "已取消",
    "dead": "放弃",
}


def _own(v: Any) -> Any:
    return OWNERSHIP_ZH.get(v, v)


def _group_label(key: str) -> str:
    """`state_owned|银行|L2` → 国有 · 银行 · L2."""
    return " · ".join(str(_own(part)) for part in key.split("|"))


FIELD_ZH = {
    "contacted": "已联系", "contacted_on": "联系日期", "reason": "原因", "promised_on": "承诺日期", "note": "备注",
}


def _shown(field: str, value: Any) -> str:
    if field == "contacted":
        return "是" if value else "否"
    return "—" if value in (None, "") else str(value)


def _beijing(at: datetime) -> datetime:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(SHANGHAI)  # the store hands back naive UTC


def _history(history: list[dict[str, Any]]) -> str:
    """The follow-up's saves, newest first: who, when (Beijing time), and each change."""
    lines = []
    for h in history:
        at = h.get("at")
        when = _beijing(at).strftime("%Y-%m-%d %H:%M") if at else ""
        what = "；".join(f"{FIELD_ZH.get(k, k)} {_shown(k, c.get('from'))} → {_shown(k, c.get('to'))}"
                         for k, c in (h.get("changes") or {}).items())
        lines.append(f"v{h.get('version')} {h.get('by')} {when}：{what or '—'}")
    return "\n".join(lines)


def _grade(v: Any) -> Any:
    return GRADE_ZH.get(v, v)


@dataclass(frozen=True)
class Asked:
    """What a dashboard table's export was asked for (the screen's own filters)."""

    ev: EvaluationUnit
    period: str
    level: str
    peer: dict[str, Any]
    institution_id: str | None
    q: str | None
    status: str | None
    grouping: str = peers.DEFAULT_GROUPING
    span: str = "quarter"


# (the workbook, the file name's stem)
Sheet = tuple[bytes, str]


async def _overview(a: Asked) -> Sheet:
    """总览: per ownership class and reporting level, then the total."""
    o = await views.overview(a.ev.models, a.period)
    headers = [
        "所有制 Ownership",
        "上报成熟度 Level",
        "机构数 Institutions",
        "完整率% Completeness",
        "及时率% Timeliness",
        "平均分 Average",
        "优秀 Excellent",
        "良好 Good",
        "合格 Pass",
        "不合格 Fail",
    ]
    rows = [
        [
            _own(c["ownership"]),
            c["reporting_level"],
            c["institutions"],
            c["completeness"],
            c["timeliness"],
            c["average_score"],
            *(c["grades"].get(g, 0) for g in views.GRADES),
        ]
        for c in o.get("by_class", [])
    ]
    rows.append(
        [
            "合计 Total",
            "",
            o.get("institutions"),
            o.get("completeness"),
            o.get("timeliness"),
            "",
            *((o.get("grades") or {}).get(g, 0) for g in views.GRADES),
        ]
    )
    return table_workbook(f"{a.period} 总览", "总览", headers, rows), "overview"


async def _trend(a: Asked) -> Sheet:
    """趋势: the alliance (or one institution) over the last eight quarters."""
    if a.institution_id:
        t = await dashboard_views.institution_trend(a.ev.models, a.period, a.institution_id, 8)
        headers = [
            "期间 Period",
            "得分 Score",
            "等级 Grade",
            "完整率% Completeness",
            "及时率% Timeliness",
        ]
        rows = [
            [i["period"], i["score"], _grade(i["grade"]), i["completeness"], i["timeliness"]]
            for i in t["items"]
        ]
    else:
        t = await dashboard_views.trend(a.ev.models, a.period, 8)
        headers = [
            "期间 Period",
            "机构数 Institutions",
            "平均分 Average",
            "完整率% Completeness",
            "及时率% Timeliness",
            "优秀 Excellent",
            "良好 Good",
            "合格 Pass",
            "不合格 Fail",
        ]
        rows = [
            [
                i["period"],
                i["institutions"],
                i["average_score"],
                i["completeness"],
                i["timeliness"],
                *((i["grades"] or {}).get(g) for g in views.GRADES),
            ]
            for i in t["items"]
        ]
    return table_workbook(f"{a.period} 趋势", "趋势", headers, rows), "trend"


async def _rankings(a: Asked) -> Sheet:
    """排名: every ranked row, within its peer group (or among all)."""
    peer = {**a.peer, "institution_ids": a.institution_id} if a.institution_id else a.peer
    docs = await dashboard_views.ranking_rows(a.ev.models, a.period, a.level, peer, a.q, EXPORT_LIMIT, a.grouping)
    grouped = a.grouping != "all"
    headers = [
        "组内排名 Rank in peer group" if grouped else "全部机构排名（不分组）Rank among all",
        "同类组 Peer group",
        "组内数量 Group size",
        "编号 ID",
        "名称 Name",
        "所有制 Ownership",
        "行业 Sector",
        "上报成熟度 Level",
        *CARD_HEADERS,
    ]
    rows = [
        [
            d["rank"],
            _group_label(d["group"]) if grouped else "全部 All",
            d["group_size"],
            d.get("object_id"),
            d.get("name"),
            _own(d.get("ownership")),
            d.get("sector"),
            d.get("reporting_level"),
            d.get("score"),
            _grade(d.get("grade")),
            "是" if d.get("vetoed") else "否",
            d.get("completeness"),
            d.get("timeliness"),
        ]
        for d in docs
    ]
    return table_workbook(f"{a.period} 排名", "排名", headers, rows), "rankings"


async def _institution(a: Asked) -> Sheet:
    """指标明细: an institution's indicators and its branches', with the evidence ids."""
    assert a.institution_id is not None
    card = await views.institution(a.ev.models, a.period, a.institution_id, None)
    # the scores workbook's breakdown columns; here the evidence is the events' ids, not their count
    headers = [("证据事件 Evidence" if h == EVIDENCE_COUNT else h) for h in BREAKDOWN_HEADERS]
    rows = []
    for obj in [card, *card.get("branches", [])]:
        for r in obj.get("breakdown", []):
            rows.append(breakdown_row(obj, r, evidence=r.get("evidence")))
    return table_workbook(
        f"{a.period} {card.get('name')} 指标明细", "指标明细", headers, rows
    ), "institution"


async def _queue(a: Asked) -> Sheet:
    """落后支部工作台: the lagging branches with their reminders and follow-up records."""
    page = await dashboard_views.work_queue(a.ev.models, a.ev.projections, a.institution_id, a.status, 1, EXPORT_LIMIT)
    headers = [
        "支部编号 Branch ID",
        "支部 Branch",
        "机构 Institution",
        "状态 Status",
        "距上次会议天数 Days since meeting",
        "上次会议 Last meeting",
        "已发提醒 Reminders",
        "最近提醒状态 Latest delivery",
        "已联系 Contacted",
        "联系日期 Contacted on",
        "原因 Reason",
        "承诺日期 Promised by",
        "备注 Note",
        "修改历史 History",
    ]
    rows = []
    for i in page["items"]:
        f = i["follow_up"]
        latest = i["reminders"][0]["status"] if i["reminders"] else None
        rows.append(
            [
                i["organization_id"],
                i["name"],
                i["institution_name"] or i["institution_id"],
                STATUS_ZH.get(i["status"], i["status"]),
                i["days_since_last_meeting"],
                i["last_meeting_on"],
                i["reminders_sent"],
                DELIVERY_ZH.get(latest, latest) if latest else "",
                "是" if f.get("contacted") else "否",
                f.get("contacted_on"),
                f.get("reason"),
                f.get("promised_on"),
                f.get("note"),
                _history(f.get("history") or []),
            ]
        )
    return table_workbook("落后支部工作台", "工作台", headers, rows), "queue"


async def _heatmap(a: Asked) -> Sheet:
    """组织生活热力图: meetings per branch per month."""
    heat = await dashboard_views.heatmap(
        a.ev.models, a.ev.projections, a.period, a.institution_id, a.q, 1, EXPORT_LIMIT, a.span
    )
    headers = [
    "支部编号 Branch ID",
    "支部 Branch",
    "组织类型 Kind",
    "机构 Institution",
    *(_month(m) for m in heat["months"]),
    "上次会议 Last meeting",
    ]
    rows = [
    [
        i["organization_id"],
        i["name"],
        zh(i["kind"]),
        "、".join(str(x["name"] or x["id"]) for x in i["institutions"]),  # a joint branch names each
        *i["counts"],
        i["last_meeting_on"],
    ]
    for i in heat["items"]
    ]
    return table_workbook(f"{a.period} 组织生活热力图", "组织生活", headers, rows), "heatmap"


TABLES: dict[str, Callable[[Asked], Awaitable[Sheet]]] = {
    "overview": _overview,
    "trend": _trend,
    "rankings": _rankings,
    "institution": _institution,
    "queue": _queue,
    "heatmap": _heatmap,
}


async def workbook(ev: EvaluationUnit, table: str, period: str, **options: Any) -> Sheet:
    """The table as the screen shows it (every row, not a page), as a one-sheet workbook."""
    return await TABLES[table](Asked(ev, period, **options))


def _month(month: str) -> str:
    """`2026-07` → 2026年7月."""
    return f"{month[:4]}年{int(month[5:7])}月"


async def workbook_file(
    ev: EvaluationUnit, asked: Mapping[str, Any], progress: Progress | None = None
) -> tuple[bytes, str]:
    """(the workbook, its file name) for an authorized query (`api.export_asked`; the scores
    workbook's: `table` "scores", `period`, `institution_id`). `progress`: the scores workbook
    counts its cards written."""
    if asked["table"] == "scores":
        body = await _scores(ev, asked["period"], asked.get("institution_id"), progress or Progress())
        return body, f"scores-{asked['period']}.xlsx"
    options = {k: v for k, v in asked.items() if k not in ("table", "period")}
    body, name = await workbook(ev, asked["table"], asked["period"], **options)
    return body, f"{name}-{asked['period']}.xlsx"


async def _scores(ev: EvaluationUnit, period: str, institution_id: str | None, progress: Progress) -> bytes:
    """The scores workbook, a batch of cards at a time: read from the store, written in a thread (the
    event loop keeps serving and consuming while the city's 33,000 rows are written)."""
    scoped = [institution_id] if institution_id else None
    progress.total = await ev.models.count_cards(period, scoped)
    book = ScoreWorkbook(period)
    try:
        for kind in ("institution", "branch"):
            batch: list[dict[str, Any]] = []
            async for card in ev.models.cards(period, kind, scoped):
                batch.append(card)
                if len(batch) >= CARD_BATCH:
                    await asyncio.to_thread(book.add, batch)
                    progress.done += len(batch)
                    batch = []
            await asyncio.to_thread(book.add, batch)
            progress.done += len(batch)
    except BaseException:
        book.discard()
        raise
    return await asyncio.to_thread(book.close)


def job_key(asked: Mapping[str, Any], requested_by: str) -> str:
    """One running job per person and query: the same export asked twice meanwhile joins the first."""
    digest = hashlib.sha256(json.dumps(dict(asked), sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{asked['table']}:{asked['period']}:{requested_by}:{digest}"


def work(ev: EvaluationUnit, files: ExportFiles) -> Work:
    """An export job: the workbook made and kept for its requester; the result says where it is."""

    async def export(job: dict[str, Any], progress: Progress) -> dict[str, Any]:
        progress.total = 1  # a table is one step; the scores workbook counts its cards
        body, file_name = await workbook_file(ev, job["params"], progress)
        await files.save(job["_id"], body, file_name, job["requested_by"], ev.clock.now())
        return {"table": job["params"]["table"], "period": job["params"]["period"], "file_name": file_name,
                "bytes": len(body), "download_url": f"/api/v1/dashboard/exports/files/{job['_id']}"}

    return export
