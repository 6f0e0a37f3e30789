"""Why a submission is refused, in the reporter's words (Chinese first, then English)."""

from __future__ import annotations

from alliance_shared.contracts.activity import RejectionReason


def reason(field: str, text: str) -> RejectionReason:
    return RejectionReason(field=field, reason=text)


NOT_AN_ACTIVITY = "不是可上报的活动事件类型 / not a reportable activity type"
REGULATOR_ONLY = (
    "只有监管机构(regulator 角色)可以上报违规违纪事件 / only the regulator role may report compliance incidents"
)
REGULATOR_SENDS_INCIDENTS = "监管机构只能上报违规违纪事件 / the regulator role reports compliance incidents only"
NO_INSTITUTION = "无法确定上报机构 / the reporting institution is unknown"
OTHER_INSTITUTION = "不能代其他机构上报 / cannot report for another institution"
UNKNOWN_INSTITUTION = "机构未在联盟登记 / institution is not registered with the alliance"
UNKNOWN_ORGANIZATION = "党组织不存在 / unknown organization"
FOREIGN_ORGANIZATION = "党组织不属于上报机构 / organization belongs to another institution"
CLOSED_ORGANIZATION = "该日期党组织尚未成立或已撤销 / organization was not open on that date"
OTHER_BRANCH = "支部书记只能上报本支部的活动 / a branch secretary reports for their own branch only"
UNKNOWN_MEMBER = "党员不存在 / unknown member"
FOREIGN_MEMBER = "该党员不属于上报机构 / member belongs to another institution"
MEMBER_GONE = "该日期党员已不在册 / member had left the roll on that date"
ID_TAKEN = "事件编号已被其他机构使用 / this event id is already used by another institution"
UNKNOWN_SUPERSEDED = "被更正的事件不存在 / the superseded event is unknown"
FOREIGN_SUPERSEDED = "只能更正本机构的事件 / only your institution's events can be corrected"
MISMATCHED_CORRECTION = "更正事件须与原事件类型和对象相同 / a correction must have the same type and subject"
SELF_SUPERSEDED = "事件不能更正自身 / an event cannot supersede itself"
FUTURE_TIME = "事件时间晚于当前时间超过允许范围 / the event is timed further ahead of now than allowed"
