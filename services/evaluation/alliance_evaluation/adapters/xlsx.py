"""The score workbook (XLSX, Chinese headers first): institutions, branches and every indicator."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from ..domain.ruleset import INDICATOR_ZH

GRADE_ZH = {"excellent": "优秀", "good": "良好", "pass": "合格", "fail": "不合格", "no_data": "待评"}
OWNERSHIP_ZH = {"state_owned": "国有", "private": "民营", "emerging": "新兴金融机构"}

SCORE_HEADERS = [
    "排名 Rank",
    "编号 ID",
    "名称 Name",
    "所有制 Ownership",
    "上报成熟度 Level",
    "得分 Score",
    "等级 Grade",
    "一票否决 Vetoed",
    "完整率% Completeness",
    "及时率% Timeliness",
    "评价细则 Ruleset",
]
BREAKDOWN_HEADERS = [
    "对象类型 Object",
    "编号 ID",
    "名称 Name",
    "指标 Indicator",
    "指标值 Value",
    "要求 Requirement",
    "权重% Weight",
    "得分 Points",
    "证据事件数 Evidence",
    "说明 Note",
]


def chinese(text: Any) -> Any:
    """A text written "中文 / English" as its Chinese part: a cell holds one language."""
    return text.split(" / ", 1)[0] if isinstance(text, str) else text


def breakdown_row(obj: dict[str, Any], line: dict[str, Any], *, evidence: Any) -> list[Any]:
    """One indicator of one score as a row under BREAKDOWN_HEADERS (evidence: a count or the ids)."""
    return [
        "机构" if obj.get("object_type") == "institution" else "支部",
        obj.get("object_id") or obj.get("id"),
        obj.get("name"),
        INDICATOR_ZH.get(line["indicator"], line["indicator"]),
        line.get("value"),
        chinese(line.get("requirement")),
        line.get("weight"),
        line.get("points"),
        evidence,
        chinese(line.get("note")),
    ]


def _row(rank: int, d: dict[str, Any]) -> list[Any]:
    return [
        rank,
        d.get("object_id"),
        d.get("name"),
        OWNERSHIP_ZH.get(d.get("ownership", ""), d.get("ownership")),
        d.get("reporting_level"),
        d.get("score"),
        GRADE_ZH.get(d.get("grade", ""), d.get("grade")),
        "是" if d.get("vetoed") else "否",
        d.get("completeness"),
        d.get("timeliness"),
        d.get("ruleset"),
    ]


def score_workbook(period: str, institutions: list[dict[str, Any]], branches: list[dict[str, Any]]) -> bytes:
    wb = Workbook()
    sheets = [("机构得分", institutions), ("支部得分", branches)]
    first = wb.active
    assert first is not None
    breakdown = wb.create_sheet("指标明细")
    breakdown.append(BREAKDOWN_HEADERS)
    for n, (title, docs) in enumerate(sheets):
        ws = first if n == 0 else wb.create_sheet(title, n)
        ws.title = title
        ws.append(SCORE_HEADERS)
        for rank, d in enumerate(
            sorted(docs, key=lambda d: (-(d.get("score") or 0), d.get("object_id", ""))), 1
        ):
            ws.append(_row(rank, d))
            for r in d.get("breakdown", []):
                breakdown.append(breakdown_row(d, r, evidence=r.get("evidence_count")))
    for ws in wb.worksheets:
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
    wb.properties.title = f"{period} 综合评价得分 / scores"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
