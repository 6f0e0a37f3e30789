"""Pydantic's validation errors as a person reads them: the field by its Chinese name and the reason
in Chinese first, then the field path and pydantic's English (`explain`). Used wherever an input is
validated against a model: CloudEvents, their `data`, request bodies and query parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# payload and envelope fields a reporter may get wrong, by the names of the templates and forms
FIELD_ZH: dict[str, str] = {
    "id": "事件编号", "type": "事件类型", "source": "来源", "specversion": "规范版本", "time": "事件时间",
    "subject": "主题对象", "data": "事件内容", "datacontenttype": "内容类型",
    "organization_id": "党组织编号", "institution_id": "机构编号", "member_id": "党员编号",
    "meeting_kind": "会议类型", "held_at": "召开时间", "attendee_ids": "出席党员", "expected_count": "应到人数",
    "topic": "会议主题", "date": "日期", "minutes": "学习时长（分钟）", "course": "课程", "month": "缴费月份",
    "amount_cny": "缴费金额（元）", "kind": "类型", "participant_ids": "参与党员", "hours": "时长（小时）",
    "severity": "严重程度", "occurred_at": "发生时间", "description": "说明", "period": "期间",
    "tax_paid_cny": "纳税额（元）", "volunteer_hours": "志愿服务时长（小时）", "items": "事项",
    "supersedes": "被更正的事件", "name": "名称", "phone": "手机号", "email": "电子邮箱", "status": "状态",
    "version": "版本", "contacted": "已联系", "contacted_on": "联系日期", "reason": "原因",
    "promised_on": "承诺日期", "note": "备注", "page": "页码", "page_size": "每页条数",
}


def field_zh(path: str) -> str:
    """`data.amount_cny` → 缴费金额（元）; a list position or an unknown name stays as written."""
    parts = [p for p in path.split(".") if p and not p.isdigit()]
    if not parts:
        return "请求"
    return FIELD_ZH.get(parts[-1], parts[-1])


def _shown(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _reason_zh(kind: str, ctx: Mapping[str, Any], msg: str) -> str:
    c = {k: _shown(v) for k, v in ctx.items()}
    table = {
        "missing": "缺少{f}",
        "extra_forbidden": "{f}不是可接受的字段",
        "greater_than_equal": f"应不小于 {c.get('ge')}",
        "greater_than": f"应大于 {c.get('gt')}",
        "less_than_equal": f"应不大于 {c.get('le')}",
        "less_than": f"应小于 {c.get('lt')}",
        "string_too_short": f"至少 {c.get('min_length')} 个字符",
        "string_too_long": f"至多 {c.get('max_length')} 个字符",
        "too_short": f"至少 {c.get('min_length')} 项",
        "too_long": f"至多 {c.get('max_length')} 项",
        "string_type": "应为文字",
        "string_pattern_mismatch": "格式不正确",
        "int_type": "应为整数", "int_parsing": "应为整数", "int_from_float": "应为整数",
        "float_type": "应为数字", "float_parsing": "应为数字", "decimal_parsing": "应为数字",
        "bool_type": "应为是或否", "bool_parsing": "应为是或否",
        "list_type": "应为列表", "dict_type": "应为对象", "model_type": "应为对象",
        "datetime_type": "应为时间，如 2026-10-12T09:00:00+08:00",
        "datetime_parsing": "应为时间，如 2026-10-12T09:00:00+08:00",
        "datetime_from_date_parsing": "应为时间，如 2026-10-12T09:00:00+08:00",
        "timezone_aware": "时间须带时区，如 +08:00",
        "date_type": "应为日期，如 2026-10-12", "date_parsing": "应为日期，如 2026-10-12",
        "date_from_datetime_parsing": "应为日期，如 2026-10-12",
        "date_from_datetime_inexact": "应为日期，不带时刻",
        "literal_error": f"取值应为 {c.get('expected')} 之一",
        "enum": f"取值应为 {c.get('expected')} 之一",
        "url_parsing": "应为网址", "url_type": "应为网址",
        "json_invalid": "不是有效的 JSON",
    }
    if kind in table:
        text = table[kind]
        return "取值超出允许范围" if "None" in text else text  # a bound pydantic did not name
    if kind in ("value_error", "assertion_error"):
        text = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return text.split(" / ", 1)[0] if " / " in text else f"取值无效（{text}）"
    return "取值无效"


def explain(error: Mapping[str, Any], *, prefix: Sequence[str] = ()) -> tuple[str, str]:
    """`(field path, "中文 / English")` for one pydantic error (`ValidationError.errors()` item):
    `("data.amount_cny", "缴费金额（元）应不小于 0 / data.amount_cny: Input should be ...")`."""
    loc = [*prefix, *(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header"))]
    path = ".".join(loc)
    msg = str(error.get("msg", "invalid"))
    zh = _reason_zh(str(error.get("type", "")), error.get("ctx") or {}, msg)
    zh = zh.replace("{f}", field_zh(path)) if "{f}" in zh else f"{field_zh(path)}{zh}"
    return path, f"{zh} / {path or 'request'}: {msg}"
