"""The L1 spreadsheet layouts (one per kind, Chinese headers) and the turning of one row, or one
web-form submission, into a raw CloudEvent for the ingestion path. Pure: no file formats here."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from alliance_shared.clock import SHANGHAI
from alliance_shared.contracts import activity as act
from alliance_shared.contracts.vocabulary import MEETING_KIND_ZH, MeetingKind

from .model import Submitted
from .reasons import reason

ID_NAMESPACE = uuid.UUID("5b0c6f0e-8d1c-4b7e-9a55-2f6d1c1a0b11")
EXAMPLE_MARK = "示例"
KIND_BY_ZH = {zh: kind.value for kind, zh in MEETING_KIND_ZH.items()}


@dataclass(frozen=True)
class Column:
    key: str  # the CloudEvent attribute ("id", "supersedes") or the `data` field
    header: str  # the Chinese header of the template
    kind: str  # text, int, number, datetime, date, month, list, meeting_kind
    required: bool
    example: Any
    help: str = ""


def _common(*columns: Column) -> tuple[Column, ...]:
    return (
        Column("id", "事件编号", "text", False, f"{EXAMPLE_MARK}-0001", "可留空,系统按内容生成 / optional"),
        *columns,
        Column("supersedes", "更正的事件编号", "text", False, "", "更正已报事件时填写 / for corrections"),
    )


@dataclass(frozen=True)
class Layout:
    kind: str
    title: str
    event_type: str
    columns: tuple[Column, ...]


LAYOUTS: dict[str, Layout] = {
    layout.kind: layout
    for layout in (
        Layout(
            "meeting",
            "三会一课 / meetings",
            act.MeetingHeld.event_type,
            _common(
                Column("organization_id", "党组织编号", "text", True, "org-0001"),
                Column(
                    "meeting_kind",
                    "会议类型",
                    "meeting_kind",
                    True,
                    "支部委员会",
                    "下拉选择 / choose from the list",
                ),
                Column(
                    "held_at",
                    "召开时间",
                    "datetime",
                    True,
                    datetime(2026, 10, 12, 9, 0),
                    "北京时间 / Beijing time",
                ),
                Column(
                    "attendee_ids",
                    "参会党员编号",
                    "list",
                    False,
                    "m-0001,m-0002",
                    "以逗号分隔 / comma separated",
                ),
                Column("expected_count", "应到人数", "int", True, 2),
                Column("topic", "会议主题", "text", False, "学习贯彻党的二十大精神"),
                Column("minutes_hash", "会议记录摘要", "text", False, ""),
                Column("photo_hashes", "照片摘要", "list", False, ""),
            ),
        ),
        Layout(
            "learning",
            "线上学习 / learning",
            act.LearningCompleted.event_type,
            _common(
                Column("member_id", "党员编号", "text", True, "m-0001"),
                Column("date", "学习日期", "date", True, date(2026, 10, 12)),
                Column("minutes", "学习时长(分钟)", "int", True, 30),
                Column("course", "课程名称", "text", False, "学习强国"),
            ),
        ),
        Layout(
            "dues",
            "党费 / dues",
            act.DuesPaid.event_type,
            _common(
                Column("member_id", "党员编号", "text", True, "m-0001"),
                Column("month", "所属月份", "month", True, "2026-10", "格式 YYYY-MM"),
                Column("amount_cny", "金额(元)", "number", True, 50.0),
            ),
        ),
        Layout(
            "public_activity",
            "重大公共活动 / public activities",
            act.PublicActivityHeld.event_type,
            _common(
                Column("organization_id", "党组织编号", "text", True, "org-0001"),
                Column("kind", "活动类型", "text", True, "志愿服务"),
                Column("held_at", "活动时间", "datetime", True, datetime(2026, 10, 12, 14, 0)),
                Column("participant_ids", "参与党员编号", "list", False, "m-0001,m-0002"),
                Column("hours", "时长(小时)", "number", True, 3),
            ),
        ),
        Layout(
            "social_contribution",
            "纳税与社会责任 / social contribution",
            act.SocialContributionReported.event_type,
            _common(
                Column("institution_id", "机构编号", "text", True, "inst-0001"),
                Column("period", "期间", "text", True, "2026-Q3", "格式 YYYY-Qn"),
                Column("tax_paid_cny", "纳税额(元)", "number", True, 1000000),
                Column("volunteer_hours", "志愿服务时长(小时)", "number", True, 120),
                Column("items", "事项", "list", False, "助学,扶贫"),
            ),
        ),
    )
}


class CellError(ValueError):
    pass


def match_headers(layout: Layout, headers: Sequence[Any]) -> dict[int, Column]:
    """Column position → column, by Chinese header or English key; unknown headers are ignored."""
    by_name = {c.header: c for c in layout.columns} | {c.key: c for c in layout.columns}
    found: dict[int, Column] = {}
    for i, raw in enumerate(headers):
        name = re.sub(r"[*＊\s]|（.*?）|\(必填\)", "", str(raw or "")) if raw is not None else ""
        column = by_name.get(name) or by_name.get(str(raw or "").strip())
        if column is not None:
            found[i] = column
    return found


def is_example(values: Mapping[str, Any]) -> bool:
    return str(values.get("id") or "").startswith(EXAMPLE_MARK)


def to_submitted(
    layout: Layout,
    values: Mapping[str, Any],
    *,
    institution_id: str,
    source: str,
    row: int | None,
    label: str,
) -> Submitted:
    """A row (column key → cell value) as a raw CloudEvent, or the first cell at fault."""
    data: dict[str, Any] = {}
    envelope_attrs: dict[str, Any] = {}
    for column in layout.columns:
        value = values.get(column.key)
        if _blank(value):
            if column.required:
                return Submitted(None, label, row, reason(column.header, "必填 / required"))
            continue
        try:
            converted = _convert(column, value)
        except CellError as exc:
            return Submitted(None, label, row, reason(column.header, str(exc)))
        (envelope_attrs if column.key in ("id", "supersedes") else data)[column.key] = converted
    event_id = envelope_attrs.get("id") or str(
        uuid.uuid5(
            ID_NAMESPACE,
            json.dumps([institution_id, layout.event_type, data], sort_keys=True, ensure_ascii=False, default=str),
        )
    )
    raw = {"specversion": "1.0", "id": event_id, "source": source, "type": layout.event_type, "data": data}
    if envelope_attrs.get("supersedes"):
        raw["supersedes"] = envelope_attrs["supersedes"]
    return Submitted(raw, label, row)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _convert(column: Column, value: Any) -> Any:
    kind = column.kind
    if kind == "text":
        return _text(value)
    if kind == "int":
        try:
            number = float(str(value).strip())
        except ValueError:
            raise CellError("应为整数 / must be a whole number") from None
        if not number.is_integer():
            raise CellError("应为整数 / must be a whole number")
        return int(number)
    if kind == "number":
        try:
            return float(str(value).strip().replace(",", ""))
        except ValueError:
            raise CellError("应为数字 / must be a number") from None
    if kind == "list":
        return [p for p in re.split(r"[,，;；、\s]+", _text(value)) if p]
    if kind == "meeting_kind":
        text = _text(value)
        if text in KIND_BY_ZH:
            return KIND_BY_ZH[text]
        if text in {k.value for k in MeetingKind}:
            return text
        raise CellError("会议类型不在列表中 / unknown meeting kind: " + "、".join(MEETING_KIND_ZH.values()))
    if kind == "datetime":
        return _datetime(value).isoformat()
    if kind == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(_text(value).replace("/", "-")).isoformat()
        except ValueError:
            raise CellError("日期格式应为 YYYY-MM-DD / date must be YYYY-MM-DD") from None
    if kind == "month":
        if isinstance(value, date | datetime):
            return f"{value.year:04d}-{value.month:02d}"
        match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})月?", _text(value))
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise CellError("月份格式应为 YYYY-MM / month must be YYYY-MM")
        return f"{match.group(1)}-{int(match.group(2)):02d}"
    raise CellError(f"unsupported column kind {kind}")


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _datetime(value: Any) -> datetime:
    """A cell's instant; times without an offset are Beijing time, as offices write them."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = _text(value).replace("/", "-")
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}(:\d{2})?", text):
            text = re.sub(r"-(\d)(?=\D)", r"-0\1", text)
            text = re.sub(r" (\d):", r" 0\1:", text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise CellError("时间格式应为 YYYY-MM-DD HH:MM / time must be YYYY-MM-DD HH:MM") from None
    return parsed.replace(tzinfo=SHANGHAI) if parsed.tzinfo is None else parsed
