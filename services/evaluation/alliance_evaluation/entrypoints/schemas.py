"""The unified view's answers as declared models (CONTRACT.md, evaluation): each of these routes
names its `response_model`, so the OpenAPI documents what a regulator's or an institution's system
reads back. A score card carries the ruleset's indicators, so its model names the fields every card
has and keeps the rest as they are stored for it (`extra="allow"`); the store's internals (`_id`,
the outbox, the digest) are removed before it is answered (`adapters.views`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Coverage(_Out):
    branches: int
    joint_branches: int
    members: int
    pocket_members: int


class ClassFigures(_Out):
    """One ownership class at one reporting level."""

    ownership: str
    reporting_level: str
    institutions: int
    completeness: float | None
    timeliness: float | None
    average_score: float | None
    grades: dict[str, int] = Field(description="excellent / good / pass / fail → 机构数 / institutions")
    no_data: int = Field(description="待评 / not yet scorable")


class Overview(_Out):
    """A quarter across the alliance, as of the day its scores stand on."""

    period: str
    as_of: str | None = Field(description="评分所依据的日期 / the day the scores stand on")
    provisional: bool = Field(description="季度未结束：暂定 / the quarter is not over")
    standing: str | None
    institutions: int
    completeness: float | None
    timeliness: float | None
    grades: dict[str, int]
    no_data: int
    vetoed: int
    coverage: Coverage
    by_class: list[ClassFigures]
    rejections: int = Field(description="本季度被拒收的上报 / reports refused this quarter")
    computed_at: datetime
    by_level: list[dict[str, Any]] = Field(description="L1/L2/L3 各按本级期望比较 / each level against its own")
    maturity_note: str | None


class RulesetVersions(_Out):
    current: str
    versions: list[str]


class PeriodState(_Out):
    period: str
    status: str = Field(description="open | closed")
    closed_at: datetime | None
    closed_by: str | None
    late_events: list[Any] = Field(description="关账后到达的事件 / events that arrived after the close")



class RankFields(_Out):
    """What a ranking row shows of its object, wherever it is ranked."""

    name: str | None
    score: float | None
    grade: str | None
    ownership: str | None
    sector: str | None
    reporting_level: str | None
    institution_id: str | None
    completeness: float | None
    timeliness: float | None
    kind: str | None = Field(None, description="支部的组织类型 / a branch's kind")


class RankedRow(RankFields):
    id: str
    vetoed: bool
    rank: int = Field(description="全部中的名次 / place among all, best first")
    group: dict[str, Any] = Field(description="同类组 / its peer group")
    group_rank: int | None = Field(description="同类组内名次（待评为 null）/ its rank there; null: not yet scorable")


class Ranking(_Out):
    items: list[RankedRow]
    total: int
    page: int
    page_size: int


class ScoreCard(BaseModel):
    """A score card with its breakdown and evidence; the ruleset's own fields are kept as stored."""

    model_config = ConfigDict(extra="allow")

    id: str | None
    object_type: str = Field(description="institution | branch")
    object_id: str
    institution_id: str | None = None
    period: str
    ruleset: str
    score: float | None
    grade: str | None
    vetoed: bool = False
    breakdown: list[dict[str, Any]] = Field(description="每项指标：值、要求、权重、得分、证据 / each indicator")
    completeness: float | None = None
    timeliness: float | None = None


class LevelGap(_Out):
    reporting_level: str
    grace_days: int | None
    expected_completeness: float
    expected_timeliness: float
    completeness_gap: float | None
    timeliness_gap: float | None
    meets: bool | None


class Computation(_Out):
    computation_id: str
    score: float | None
    grade: str | None
    ruleset: str | None
    computed_at: datetime | None
    trigger: str | None


class Changes(_Out):
    """Why a score moved between two computations: which indicators and which events behind them."""

    from_: str | None = Field(alias="from", serialization_alias="from")
    to: str
    score_before: float | None = None
    score_after: float | None = None
    ruleset_before: str | None = None
    ruleset_after: str | None = None
    grade_before: str | None = None
    grade_after: str | None = None
    indicators: list[dict[str, Any]]
    branches: list[dict[str, Any]]
    history: list[Computation]


class InstitutionCard(ScoreCard):
    branches: list[ScoreCard]
    changes: Changes | None = None
    against_level: LevelGap | None = Field(description="按本级期望的差距 / against its level's expectation")


class Replay(_Out):
    """`?ruleset=`: the institution scored again under another ruleset version, nothing stored."""

    replay: dict[str, Any]
    digest: str
    changes: dict[str, Any] | None


class BranchCard(ScoreCard):
    unlocks: list[dict[str, Any]] = Field(description="覆盖该支部的补报例外 / unlock exceptions covering it")
    filed_on_behalf: list[dict[str, Any]] = Field(description="上级代办的上报 / reports a superior filed for it")


class Reminder(_Out):
    id: str
    rule: str | None
    channel: str | None
    status: str | None
    recipient: str | None = Field(description="掩码 / masked")
    at: datetime | None
    reason: str | None = Field(None, description="未送达原因（中文）/ why it was not delivered")


class LaggingBranch(_Out):
    organization_id: str
    institution_id: str | None
    days_since_last_meeting: int | None
    status: str | None = Field(description="lagging | at_risk")
    last_meeting_on: str | None
    org_life: float | None
    since: Any
    reminders_sent: int = Field(description="已发提醒数 / reminders sent")
    reminders: list[Reminder] = Field(description="最近的提醒 / the latest reminders")


class LaggingPage(_Out):
    items: list[LaggingBranch]
    total: int
    page: int
    page_size: int


class Review(_Out):
    state: str
    history: list[dict[str, Any]]


class EvidenceEvent(_Out):
    """An evidence event as an officer opens it: what it says, when and how it arrived, from where."""

    id: str
    type: str | None
    institution_id: str | None
    organization_id: str | None
    period: str | None
    data: dict[str, Any] | None
    time: datetime | None
    received_at: datetime | None
    channel: str | None
    reporting_level: str | None
    source: str | None
    late: bool
    flags: list[str]
    supersedes: str | None
    superseded_by: str | None
    provenance: dict[str, Any] = Field(description="批次、文件与行 / batch, file and row")
    filed_by: str | None
    on_behalf_of: str | None
    review: Review | None = Field(description="三会一课与公共活动的审核 / a meeting's or public activity's review")


class PeriodClosedAnswer(_Out):
    period: str
    status: str
    closed_at: datetime
    closed_by: str


class LaggingScanResult(_Out):
    scanned: int
    lagging: int
    at_risk: int
    fell_behind: int
    caught_up: int
    reports_missing: int


class RescoreResult(_Out):
    period: str
    changed: int = Field(description="改变的评分卡数 / cards that changed")


# -- the dashboard's own answers (`/api/v1/dashboard/...`) -------------------------------------
class Me(_Out):
    subject: str
    role: str | None
    institution_id: str | None
    institution_name: str | None
    reads_all: bool = Field(description="可读全部机构 / reads every institution")


class Periods(_Out):
    current: str
    periods: list[str] = Field(description="有总览且已开始的季度，新者在前 / quarters with an overview, newest first")


class TrendPoint(_Out):
    period: str
    institutions: int | None = None
    average_score: float | None = None
    score: float | None = None
    grade: str | None = None
    completeness: float | None
    timeliness: float | None
    grades: dict[str, int] | None = None
    vetoed: int | None = None


class Trend(_Out):
    """The alliance's (or one institution's) figures over past quarters; a quarter without any is nulls."""

    scope: str = Field(description="alliance | institution")
    institution_id: str | None = None
    items: list[TrendPoint]


class PeerRankedRow(RankFields):
    """A row of a peer-group ranking: ranked inside its group (同类组), 待评 rows unranked."""

    id: str
    rank: int | None = Field(description="同类组内名次（待评为 null）/ its rank in its group; null: not yet scorable")
    vetoed: bool | None
    group: dict[str, Any]
    group_rank: int | None
    group_size: int


class PeerRanking(_Out):
    items: list[PeerRankedRow]
    total: int
    group_size: int
    grouping: str
    rank_label: str
    groups: list[dict[str, Any]] = Field(description="本页涉及的同类组 / the peer groups")
    page: int
    page_size: int


class Named(_Out):
    id: str
    name: str | None


class HeatRow(_Out):
    organization_id: str
    name: str | None
    kind: str | None
    institution_id: str | None
    institution_name: str | None
    institutions: list[Named]
    opened: str | None
    closed: str | None
    last_meeting_on: str | None
    counts: list[int] = Field(description="各月组织生活会议数 / meetings per month, in `months` order")


class HeatMap(_Out):
    span: str
    months: list[str]
    items: list[HeatRow]
    total: int
    page: int
    page_size: int


class FollowUpChange(_Out):
    version: int | None
    by: str | None
    at: datetime | None
    changes: dict[str, Any]


class FollowUp(_Out):
    """The secretariat's follow-up record on a lagging branch (跟进记录), at its version."""

    version: int
    contacted: bool = False
    contacted_on: str | None = None
    reason: str = ""
    promised_on: str | None = None
    note: str = ""
    updated_by: str | None = None
    updated_at: datetime | None = None
    history: list[FollowUpChange] = Field(default_factory=list)


class QueueRow(LaggingBranch):
    name: str | None
    institution_name: str | None
    follow_up: FollowUp


class WorkQueue(_Out):
    items: list[QueueRow]
    total: int
    page: int
    page_size: int


class FollowUpSaved(FollowUp):
    organization_id: str


class FlagCount(_Out):
    flag: str
    label: str
    events: int


class FlagLabel(_Out):
    flag: str
    label: str


class FlaggedEvent(_Out):
    id: str
    type: str | None
    kind: str | None
    organization_id: str | None
    member_id: str | None
    day: str | None
    flags: list[FlagLabel]
    channel: str | None
    received_at: datetime | None


class DataQuality(_Out):
    period: str
    institution_id: str
    flagged_events: int
    kinds: list[FlagCount]
    flag: str | None
    items: list[FlaggedEvent]
    total: int
    page: int
    page_size: int


class AttachedBranch(_Out):
    organization_id: str
    name: str | None
    kind: str | None
    parent_id: str | None
    parent_name: str | None
    institutions: list[Named]
    opened: str | None
    closed: str | None
    score: float | None = Field(None, description="仅可读全部机构者可见 / shown to those who read every institution")
    grade: str | None = None


class AttachedBranches(_Out):
    period: str
    institution_id: str
    items: list[AttachedBranch]


# -- what people do to scores: ratings, adjustments, appeals, exemptions, and their queues ------
class OnScore(_Out):
    """What a rating, an adjustment or an appeal is about: an object's score in a quarter."""

    id: str
    period: str
    object_type: str = Field(description="institution | branch")
    object_id: str


class Rating(OnScore):
    rating: str = Field(description="excellent | good | average | poor")
    comment: str
    evaluator: str


class Adjustment(OnScore):
    """A manual adjustment: proposed with a reason, decided by a second person."""

    institution_id: str | None
    points: str = Field(description="加减分（两位小数）/ points added or taken, two decimals")
    reason: str
    status: str = Field(description="pending | approved | rejected")
    proposed_by: str
    proposed_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None


class Appeal(OnScore):
    institution_id: str | None
    reason: str
    status: str = Field(description="open | upheld | dismissed")
    filed_by: str
    filed_at: datetime
    computation_id: str | None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    note: str | None = None


class Exemption(_Out):
    """A branch excused from reporting for a while."""

    id: str
    organization_id: str
    institution_id: str | None
    kind: str | None
    start: str
    end: str
    reason: str
    granted_by: str
    granted_at: datetime


class ObjectNamed(_Out):
    object_name: str | None = Field(None, description="对象名称 / the object's name")
    institution_name: str | None = None


class AdjustmentItem(Adjustment, ObjectNamed):
    can_decide: bool = Field(description="调用者可否审批 / whether the caller may decide it")


class AppealItem(Appeal, ObjectNamed):
    can_resolve: bool


class ExemptionItem(Exemption, ObjectNamed):
    pass


class AdjustmentQueue(_Out):
    items: list[AdjustmentItem]
    total: int
    page: int
    page_size: int


class AppealQueue(_Out):
    items: list[AppealItem]
    total: int
    page: int
    page_size: int


class ExemptionList(_Out):
    items: list[ExemptionItem]
    total: int
    page: int
    page_size: int
    can_grant: bool


# -- unlock exceptions of a closed quarter ------------------------------------------------------
class Unlock(_Out):
    """An unlock exception: one branch or one institution may report into a closed quarter until `until`."""

    id: str
    organization_id: str | None
    institution_id: str | None
    requested_by: str
    granted_by: str
    reason: str
    until: datetime
    granted_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    status: str = Field(description="active | expired | revoked")


class UnlockList(_Out):
    items: list[Unlock]


# -- the audit trail -----------------------------------------------------------------------------
class AuditEntry(_Out):
    """One audited action (or refused attempt), in the platform's one record shape."""

    id: str
    at: datetime
    service: str
    action: str
    outcome: str = Field(description="done | denied")
    actor: str
    actor_role: str | None = None
    actor_key_id: str | None = None
    actor_institution_id: str | None = None
    ip: str | None = None
    object_type: str
    object_id: str
    institution_id: str | None = None
    period: str | None = None
    details: dict[str, Any] = Field(default_factory=dict, description="不含个人信息 / no personal data")


class AuditPage(_Out):
    items: list[AuditEntry]
    limit: int
    next_cursor: str | None


# -- the ruleset lifecycle -----------------------------------------------------------------------
class Draft(BaseModel):
    """A draft ruleset through its lifecycle (draft → proposed → published, or back to draft)."""

    model_config = ConfigDict(extra="allow")

    id: str
    version: str
    name: str
    status: str = Field(description="draft | proposed | published")
    source: str | None = None
    created_by: str
    created_at: datetime
    rev: int
    whatif_job: str | None = Field(description="最近一次回放任务 / the latest what-if job")
    proposal: dict[str, Any] | None
    decision: dict[str, Any] | None
    periods: list[str] = Field(description="发布后适用的季度 / the quarters it will score")
    ruleset: dict[str, Any] | None = Field(None, description="细则内容 / the ruleset itself")


class WhatIfJob(BaseModel):
    """A what-if replay of a draft over past quarters: progress, then the summary of what moves."""

    model_config = ConfigDict(extra="allow")

    id: str
    draft_id: str
    version: str
    periods: list[str]
    status: str = Field(description="queued | running | done | failed")
    started_by: str
    started_at: datetime
    finished_at: datetime | None = None
    error: Any = None
    progress: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, Any] | None = Field(None, description="差异汇总（完成后）/ the diff's summary, once done")
    status_url: str


class DraftDetail(Draft):
    jobs: list[WhatIfJob]


class DraftList(_Out):
    items: list[Draft]


class WhatIfRows(_Out):
    items: list[dict[str, Any]] = Field(description="每个对象的前后得分、等级、排名与变动的指标 / before and after")
    total: int
    page: int
    page_size: int


class InForce(_Out):
    default: str
    periods: dict[str, str] = Field(description="季度 → 适用版本 / quarter → its ruleset version")
