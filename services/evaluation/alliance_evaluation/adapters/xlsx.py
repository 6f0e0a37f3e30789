"""The score workbook (XLSX, Chinese headers first): institutions, branches and every indicator."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from ..domain.ruleset import INDICATOR_ZH

GRADE_ZH = {"excellent": "优秀", "good": "良好", "pass": "合格", "fail": "不合格", "no_data": "待评"}
OWNERSHIP_ZH = {"state_owned": "国有", "private": "民营", "emerging": "新兴金融机构"}

# a card's own columns, wherever cards are listed (the scores workbook, the rankings' export)
CARD_HEADERS = ["得分 Score", "等级 Grade", "一票否决 Vetoed", "完整率% Completeness", "及时率% Timeliness"]
SCORE_HEADERS = [
    "排名 Rank", "编号 ID", "名称 Name", "所有制 Ownership", "上报成熟度 Level", *CARD_HEADERS, "评价细则 Ruleset",
]
EVIDENCE_COUNT = "证据事件数 Evidence"
BREAKDOWN_HEADERS = [
    "对象类型 Object",
    "编号 ID",
    "名称 Name",
    "指标 Indicator",
    "指标值 Value",
    "要求 Requirement",
    "权重% Weight",
    "得分 Points",
    EVIDENCE_COUNT,
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


class ScoreWorkbook:
    """The score workbook written as the cards arrive, best first (`add` a batch at a time, then
    `close`): write-only, so its rows go to a temporary file, not memory. Held whole, a tenth of the
    city's cards (3,300) took the process's peak from 140 to 245 MB; written so, to 191 MB
    (`bench/evaluation_rescore.py --parts export`; the city has 33,000)."""

    def __init__(self, period: str) -> None:
        self._wb = Workbook(write_only=True)
        self._wb.properties.title = f"{period} 综合评价得分 / scores"
        self._sheets = {kind: self._sheet(title, SCORE_HEADERS)
                        for kind, title in (("institution", "机构得分"), ("branch", "支部得分"))}
        self._breakdown = self._sheet("指标明细", BREAKDOWN_HEADERS)
        self._ranked = dict.fromkeys(self._sheets, 0)

    def _sheet(self, title: str, headers: list[str]) -> Any:
        ws = self._wb.create_sheet(title)
        ws.freeze_panes = "A2"
        cells = []
        for h in headers:
            cell = WriteOnlyCell(ws, value=h)
            cell.font = Font(bold=True)
            cells.append(cell)
        ws.append(cells)
        return ws

    def add(self, cards: Iterable[dict[str, Any]]) -> None:
        """Cards in rank order (score descending, then id); an institution's before any branch's
        keeps the breakdown sheet in the same order."""
        for d in cards:
            kind = "institution" if d.get("object_type") == "institution" else "branch"
            self._ranked[kind] += 1
            self._sheets[kind].append(_row(self._ranked[kind], d))
            for r in d.get("breakdown", []):
                self._breakdown.append(breakdown_row(d, r, evidence=r.get("evidence_count")))

    def discard(self) -> None:
        """Close the temporary files of a workbook that will not be saved (its job was stopped)."""
        for ws in self._wb.worksheets:
            ws.close()

    def close(self) -> bytes:
        out = io.BytesIO()
        self._wb.save(out)
        return out.getvalue()
