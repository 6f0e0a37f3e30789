"""The alliance's words (GLOSSARY.md) as enumerations shared by every contract."""

from __future__ import annotations

from enum import StrEnum


class Ownership(StrEnum):
    STATE_OWNED = "state_owned"  # 国有
    PRIVATE = "private"  # 民营
    EMERGING = "emerging"  # 新兴金融机构


class PartyOrgStatus(StrEnum):
    ESTABLISHED_COMPLETE = "established_complete"  # 已建立党组织且工作完善
    ESTABLISHED_INCOMPLETE = "established_incomplete"  # 已建立党组织但不够完善
    NOT_ESTABLISHED_CAPABLE = "not_established_capable"  # 有能力有条件建立但尚未建立
    NOT_ESTABLISHED_INCAPABLE = "not_established_incapable"  # 不具备建立条件


class ReportingLevel(StrEnum):
    L1 = "L1"  # manual: form or spreadsheet
    L2 = "L2"  # batch API
    L3 = "L3"  # streaming: Kafka or signed webhook


class AllianceRole(StrEnum):
    CHAIR = "chair"
    VICE_CHAIR = "vice_chair"
    SECRETARY_GENERAL = "secretary_general"
    MEMBER = "member"
    REGULATOR = "regulator"


class OrganizationKind(StrEnum):
    COMMITTEE = "committee"  # 党委
    GENERAL_BRANCH = "general_branch"  # 党总支
    BRANCH = "branch"  # 党支部
    JOINT_BRANCH = "joint_branch"  # 联合党支部
    AFFILIATED_BRANCH = "affiliated_branch"  # 挂靠党支部: one institution's members, under another's committee
    TEMPORARY_BRANCH = "temporary_branch"  # 临时党支部
    PARTY_GROUP = "party_group"  # 党小组

    @property
    def holds_meetings(self) -> bool:
        """Branch-like organisations are the ones expected to hold 三会一课 and get reminders."""
        return self in (OrganizationKind.BRANCH, OrganizationKind.JOINT_BRANCH,
                        OrganizationKind.AFFILIATED_BRANCH, OrganizationKind.TEMPORARY_BRANCH)


class MemberStatus(StrEnum):
    APPLICANT = "applicant"  # 入党申请人
    ACTIVIST = "activist"  # 入党积极分子
    CANDIDATE = "candidate"  # 发展对象
    PROBATIONARY = "probationary"  # 预备党员
    FULL = "full"  # 正式党员

    @property
    def is_party_member(self) -> bool:
        return self in (MemberStatus.PROBATIONARY, MemberStatus.FULL)


class MeetingKind(StrEnum):
    BRANCH_GENERAL_MEETING = "branch_general_meeting"  # 支部党员大会
    BRANCH_COMMITTEE_MEETING = "branch_committee_meeting"  # 支部委员会
    PARTY_GROUP_MEETING = "party_group_meeting"  # 党小组会
    PARTY_LESSON = "party_lesson"  # 党课
    THEME_PARTY_DAY = "theme_party_day"  # 主题党日
    ORGANIZATIONAL_LIFE_MEETING = "organizational_life_meeting"  # 组织生活会
    DEMOCRATIC_APPRAISAL = "democratic_appraisal"  # 民主评议党员


MEETING_KIND_ZH: dict[MeetingKind, str] = {
    MeetingKind.BRANCH_GENERAL_MEETING: "支部党员大会",
    MeetingKind.BRANCH_COMMITTEE_MEETING: "支部委员会",
    MeetingKind.PARTY_GROUP_MEETING: "党小组会",
    MeetingKind.PARTY_LESSON: "党课",
    MeetingKind.THEME_PARTY_DAY: "主题党日",
    MeetingKind.ORGANIZATIONAL_LIFE_MEETING: "组织生活会",
    MeetingKind.DEMOCRATIC_APPRAISAL: "民主评议党员",
}


class Severity(StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    SEVERE = "severe"


class Channel(StrEnum):
    """How an activity event reached the platform."""

    FORM = "form"  # L1 web form
    UPLOAD = "upload"  # L1 spreadsheet
    BATCH = "batch"  # L2 batch API
    STREAM = "stream"  # L3 Kafka
    WEBHOOK = "webhook"  # L3 signed webhook


class ReviewState(StrEnum):
    """Where a reported meeting or public activity stands in its review (ODK Central's review states)."""

    PENDING = "pending"  # 待审核: reported, not yet reviewed
    APPROVED = "approved"  # 已通过
    RETURNED = "returned"  # 已退回: to be corrected, with the reviewer's comment
    RESUBMITTED = "resubmitted"  # 已重新提交: returned, then corrected and sent again; awaits review


class Role(StrEnum):
    SECRETARIAT = "secretariat"
    INSTITUTION_ADMIN = "institution_admin"
    BRANCH_SECRETARY = "branch_secretary"
    EVALUATOR = "evaluator"
    REGULATOR = "regulator"


# The GLOSSARY names of every code a person may read (dashboard, mails, SMS, XLSX): one table.
ZH: dict[str, str] = {
    **{k.value: v for k, v in MEETING_KIND_ZH.items()},
    "learning": "线上学习", "dues": "党费", "public_activity": "公共活动",
    "committee": "党委", "general_branch": "党总支", "branch": "党支部", "joint_branch": "联合党支部",
    "affiliated_branch": "挂靠党支部", "temporary_branch": "临时党支部", "party_group": "党小组",
    "state_owned": "国有", "private": "民营", "emerging": "新兴金融机构",
    "form": "网页表单", "upload": "表格上传", "batch": "批量接口", "stream": "流式接入", "webhook": "签名回调",
    "email": "邮件", "sms": "短信",
    "queued": "排队", "deferred": "暂缓发送", "sent": "已发送", "delivered": "已送达", "failed": "失败",
    "cancelled": "已取消", "dead": "放弃",
    "secretariat": "秘书处", "institution_admin": "机构党务管理员", "branch_secretary": "支部书记",
    "evaluator": "评价人", "regulator": "监管单位",
    "events": "新上报事件", "manual": "手动重算",
    "lagging": "落后", "at_risk": "有风险",
    "full": "正式党员", "probationary": "预备党员", "candidate": "发展对象", "activist": "入党积极分子",
    "applicant": "入党申请人",
    # plausibility flags activity raises at ingest (the event is accepted and carries them)
    "duplicate_meeting": "重复上报的会议", "off_roll_attendees": "出席人员不在本支部名册",
    "unknown_attendees": "出席人员未登记", "attendance_above_members": "出席人数超过支部党员数",
    "no_attendees": "无出席人员", "minutes_reused": "会议记录重复使用", "photo_reused": "会议照片重复使用",
    "learning_over_24h": "单日学习超过24小时", "future_time": "活动时间晚于上报时间",
    # review states of a reported meeting or public activity
    "pending": "待审核", "approved": "已通过", "returned": "已退回", "resubmitted": "已重新提交",
}


def zh(code: str | None) -> str:
    """The Chinese name of `code` (a code with a `:detail`, such as `manual:sec-1`, by its head);
    a value that is not a code comes back as it is."""
    if not code:
        return ""
    return ZH.get(code) or ZH.get(code.split(":", 1)[0]) or code
