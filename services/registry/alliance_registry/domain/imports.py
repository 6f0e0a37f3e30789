"""Bulk import rows (Chinese headers, Chinese or code values) turned into plain field values.
Pure: the spreadsheet reading is in adapters, the storing in handlers. A bad cell raises
`RowError` naming the column as it appears in the file."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from alliance_shared.contracts.vocabulary import (
    AllianceRole,
    MemberStatus,
    OrganizationKind,
    Ownership,
    PartyOrgStatus,
    ReportingLevel,
)


class ImportKind(StrEnum):
    INSTITUTIONS = "institutions"
    ORGANIZATIONS = "organizations"
    MEMBERS = "members"


class RowError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# field -> accepted headers (Chinese first, the code name always works too)
HEADERS: dict[ImportKind, dict[str, tuple[str, ...]]] = {
    ImportKind.INSTITUTIONS: {
        "uscc": ("统一社会信用代码", "信用代码"),
        "name": ("机构名称", "名称"),
        "ownership": ("所有制", "所有制类型", "所有制分类"),
        "sector": ("行业", "所属行业"),
        "party_org_status": ("党组织状态", "党组织建设状态"),
        "reporting_level": ("上报级别", "上报成熟度"),
        "alliance_role": ("联盟角色",),
        "effective_from": ("生效日期",),
        "contact_name": ("联系人", "联系人姓名"),
        "contact_phone": ("联系人手机", "联系电话"),
        "contact_email": ("联系人邮箱", "联系邮箱"),
    },
    ImportKind.ORGANIZATIONS: {
        "name": ("组织名称", "党组织名称"),
        "kind": ("类型", "组织类型"),
        "institutions": ("所属机构",),
        "parent": ("上级组织",),
        "established_at": ("成立日期",),
        "secretary_name": ("书记姓名",),
        "secretary_phone": ("书记手机", "书记电话"),
        "secretary_email": ("书记邮箱",),
    },
    ImportKind.MEMBERS: {
        "name": ("姓名",),
        "id_number": ("身份证号", "身份证号码"),
        "phone": ("手机", "手机号码"),
        "organization": ("所在组织", "所在党组织"),
        "institution": ("所属机构",),
        "status": ("政治面貌", "发展阶段"),
        "joined_at": ("入党日期",),
        "pocket": ("口袋党员",),
    },
}
REQUIRED: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.INSTITUTIONS: ("uscc", "name", "ownership", "party_org_status", "reporting_level"),
    ImportKind.ORGANIZATIONS: ("name", "kind", "institutions"),
    ImportKind.MEMBERS: ("name", "id_number", "organization", "status"),
}

VALUES: dict[str, dict[str, str]] = {
    "ownership": {
        "国有": "state_owned",
        "国有控股": "state_owned",
        "国有及国有控股": "state_owned",
        "民营": "private",
        "民营企业": "private",
        "新兴": "emerging",
        "新兴金融": "emerging",
        "新兴金融机构": "emerging",
    },
    "party_org_status": {
        "已建立党组织且工作完善": "established_complete",
        "工作完善": "established_complete",
        "已建立党组织但不够完善": "established_incomplete",
        "不够完善": "established_incomplete",
        "有能力有条件建立但尚未建立": "not_established_capable",
        "尚未建立": "not_established_capable",
        "不具备建立条件": "not_established_incapable",
    },
    "reporting_level": {
        "手工": "L1",
        "人工": "L1",
        "批量": "L2",
        "批量接口": "L2",
        "实时": "L3",
        "流式": "L3",
    },
    "alliance_role": {
        "主席": "chair",
        "主席单位": "chair",
        "副主席": "vice_chair",
        "副主席单位": "vice_chair",
        "秘书长单位": "secretary_general",
        "成员": "member",
        "成员单位": "member",
        "监管": "regulator",
        "监管单位": "regulator",
    },
    "kind": {
        "党委": "committee",
        "党总支": "general_branch",
        "党支部": "branch",
        "支部": "branch",
        "联合党支部": "joint_branch",
        "挂靠党支部": "affiliated_branch",
        "挂靠建": "affiliated_branch",
        "临时党支部": "temporary_branch",
        "党小组": "party_group",
    },
    "status": {
        "正式党员": "full",
        "中共党员": "full",
        "预备党员": "probationary",
        "中共预备党员": "probationary",
        "发展对象": "candidate",
        "入党积极分子": "activist",
        "积极分子": "activist",
        "入党申请人": "applicant",
        "申请人": "applicant",
    },
}
_ENUMS: dict[str, type[StrEnum]] = {
    "ownership": Ownership,
    "party_org_status": PartyOrgStatus,
    "reporting_level": ReportingLevel,
    "alliance_role": AllianceRole,
    "kind": OrganizationKind,
    "status": MemberStatus,
}
_YES = {"是", "y", "yes", "true", "1"}


@dataclass(frozen=True)
class Columns:
    """Which header of the file holds which field."""

    kind: ImportKind
    by_field: dict[str, str]

    def header(self, field: str) -> str:
        return self.by_field.get(field) or HEADERS[self.kind].get(field, (field,))[0]


def map_headers(kind: ImportKind, headers: list[str]) -> Columns:
    """Match the file's headers; a missing required column is a file-level `RowError` (row 1)."""
    cleaned = {_clean_header(h): h for h in headers if h}
    by_field: dict[str, str] = {}
    for field, aliases in HEADERS[kind].items():
        for alias in (*aliases, field):
            if alias in cleaned:
                by_field[field] = cleaned[alias]
                break
    missing = [HEADERS[kind][f][0] for f in REQUIRED[kind] if f not in by_field]
    if missing:
        raise RowError(missing[0], f"缺少必填列 / missing required column: {', '.join(missing)}")
    return Columns(kind, by_field)


def _clean_header(text: str) -> str:
    return re.sub(r"[\s*＊]", "", str(text)).replace("（", "(").split("(")[0]


def read_row(columns: Columns, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The row's values by field name, enumerations as codes and dates as `date`."""
    out: dict[str, Any] = {}
    for field, header in columns.by_field.items():
        value = cell_text(raw.get(header))
        if field in ("effective_from", "established_at", "joined_at"):
            out[field] = parse_date(raw.get(header), header) if value else None
        elif field in _ENUMS and value:
            out[field] = enum_value(field, value, header)
        elif field == "pocket":
            out[field] = value.lower() in _YES
        else:
            out[field] = value or None
    for field in REQUIRED[columns.kind]:
        if not out.get(field):
            raise RowError(columns.header(field), "必填项为空 / required value is empty")
    return out


def cell_text(value: Any) -> str:
    """A cell as text; spreadsheets store long digit strings (phones) as numbers."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def enum_value(field: str, value: str, header: str) -> str:
    enum = _ENUMS[field]
    text = value.strip()
    code = VALUES[field].get(text, text)
    for candidate in (code, code.lower(), code.upper()):
        try:
            return enum(candidate).value
        except ValueError:
            continue
    allowed = "、".join(dict.fromkeys(VALUES[field])) + " / " + ", ".join(e.value for e in enum)
    raise RowError(header, f"无法识别的取值 / unknown value {text!r}; 可选 / allowed: {allowed}")


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


def parse_date(value: Any, header: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value).split(" ")[0].split("T")[0]
    if len(text) == 10 and text[4] == "-" and text[7] == "-":  # 2019-07-01, nearly every cell: no strptime
        with contextlib.suppress(ValueError):
            return date.fromisoformat(text)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise RowError(header, f"日期格式错误 / not a date: {text!r} (如 2019-07-01)")


def split_list(value: str) -> list[str]:
    """Several institutions in one cell (a joint branch): separated by 、，,；; or spaces."""
    return [p for p in re.split(r"[、，,；;\s]+", value) if p]
