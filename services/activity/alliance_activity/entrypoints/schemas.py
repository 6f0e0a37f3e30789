"""The activity API's answers as declared models: each route names its `response_model`, so the
OpenAPI documents what an integrator gets back from the batch API, the webhook, an upload and a
review, and a stored field no model names (the outbox, a key hash) is dropped rather than served."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ReasonOut(_Out):
    field: str = Field(description="出错的字段 / the field at fault")
    reason: str = Field(description="原因，中文在前 / why, Chinese first")


class EventRejected(_Out):
    id: str | None = Field(description="事件 id（或批内位置）/ the event's id, or its place in the batch")
    reason: str
    reasons: list[ReasonOut]


class EventFlagged(_Out):
    id: str
    flags: list[str] = Field(description="合理性提示，事件已接收 / plausibility flags; the event was accepted")


class EventsAnswer(_Out):
    """What became of a CloudEvent or a batch: accepted ones are on Kafka when this is answered."""

    batch_id: str | None = Field(None, description="本批编号（试运行无）/ the batch's id (none in a dry run)")
    accepted: int
    duplicates: int = Field(description="已接收过的事件 id / event ids accepted before")
    rejected: list[EventRejected]
    flagged: list[EventFlagged]


class EventsDryRun(EventsAnswer):
    dry_run: bool = True


class RowRejected(_Out):
    row: int | None = Field(description="表格行号 / the sheet's row")
    id: str | None
    reason: str
    reasons: list[ReasonOut]


class RowFlagged(_Out):
    row: int | None
    id: str
    flags: list[str]


class RowsAnswer(_Out):
    """What became of a sheet's or a form's rows."""

    accepted: int
    duplicates: int
    rejected: list[RowRejected]
    flagged: list[RowFlagged] = Field(default_factory=list)


class UploadAnswer(RowsAnswer):
    upload_id: str | None = Field(description="本次上传的批次编号 / the upload's batch id")


class SubmissionOut(_Out):
    id: str | None
    status: str = Field(description="accepted | rejected")
    channel: str
    type: str | None
    row: int | None
    institution_id: str | None
    organization_id: str | None
    received_at: str
    reasons: list[ReasonOut]
    flags: list[str]
    superseded_by: str | None
    reporter: str | None = Field(description="上报者（密钥 id 或账号）/ who filed it: key id or subject")
    on_behalf_of: str | None = Field(description="上级代办的支部 / the branch a superior filed it for")


class SubmissionPage(_Out):
    items: list[SubmissionOut]
    next_cursor: str | None
    total: int | None = Field(None, description="仅首页给出 / on a first page only")
    total_estimated: bool | None = None


class PublishedSchema(_Out):
    type: str
    href: str


class SchemaIndex(_Out):
    schemas: list[PublishedSchema]
    asyncapi: str


class ReviewStep(_Out):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, serialize_by_alias=True)

    state: str | None
    state_zh: str
    by: str | None
    by_role_zh: str
    comment: str
    at: str | None
    as_: str | None = Field(None, alias="as", description="改正后的事件 id / the corrected event's id")
    from_: str | None = Field(None, alias="from", description="被改正的事件 id / the event it corrects")


class ReviewedReport(_Out):
    """A report as its reviewer reads it: what was reported, by whom, where it stands, its steps."""

    id: str
    type: str | None
    type_zh: str
    kind: str
    kind_zh: str
    topic: str
    held_at: str | None
    people: int
    expected: int | None
    hours: float | None
    organization_id: str | None
    organization_name: str
    institution_id: str | None
    institution_name: str
    channel: str | None
    channel_zh: str
    reporter: str | None
    received_at: str | None
    flags_zh: list[str]
    state: str
    state_zh: str
    superseded_by: str | None
    resubmitted_as: str | None
    history: list[ReviewStep]


class InstitutionName(_Out):
    id: str
    name: str


class ReviewPage(_Out):
    view: str = Field(description="queue | history")
    items: list[ReviewedReport]
    total: int
    institutions: list[InstitutionName]
    role: str | None


class Resubmitted(EventsAnswer):
    review: ReviewedReport | None
    accepted: int = 0  # without a correction, no batch answer goes with it
    duplicates: int = 0
    rejected: list[EventRejected] = Field(default_factory=list)
    flagged: list[EventFlagged] = Field(default_factory=list)


class Check(_Out):
    """One check; some carry what they measured besides (`skew_s`, `body_bytes`, `warning`, …)."""

    model_config = ConfigDict(extra="allow")

    check: str = Field(description="检查项 / what was checked")
    ok: bool
    detail: str
    field: str | None = None


class DryRun(_Out):
    """What the real channel would do with it; nothing is stored or published. The batch answer's
    counts (`accepted`, `rejected`, …) and `would_publish` come once the envelope checks pass."""

    dry_run: bool = True
    channel: str = Field(description="webhook | stream")
    checks: list[Check]
    stored: bool = False
    published: bool = False
    would_answer: int | None = Field(None, description="webhook：真实回调的状态码 / the webhook's status")
    would_consume: str | None = Field(None, description="stream：accepted | duplicate | rejected | rejected_to_dlq")
    would_publish: dict[str, int] | None = Field(None, description="主题 → 事件数 / topic → events")
    batch_id: str | None = None
    accepted: int | None = None
    duplicates: int | None = None
    rejected: list[EventRejected] | None = None
    flagged: list[EventFlagged] | None = None


class DevToken(_Out):
    """Development only: a JWT signed as the SSO's would be."""

    token: str
    expires_in: int = Field(description="有效秒数 / seconds it stays valid")


class BranchChoice(_Out):
    id: str
    name: str
    kind: str = Field(description="组织类型（中文）/ the organisation's kind, in Chinese")


class InstitutionChoice(_Out):
    id: str
    name: str
    branches: list[BranchChoice]


class SignInChoices(_Out):
    items: list[InstitutionChoice]


class MeetingKindName(_Out):
    code: str
    name: str


class FormContext(_Out):
    role: str = Field(description="角色（中文）/ the role, in Chinese")
    institution: str
    branches: list[BranchChoice]
    kinds: list[MeetingKindName]
    quarter: str


class RollEntry(_Out):
    id: str
    name: str
    status: str
    party_member: bool


class ReportedMeeting(_Out):
    id: str
    kind: str
    held_at: str
    attendees: int
    channel: str
    flags: list[str]
    review: dict[str, Any] = Field(description="审核状态；退回时含意见与原填报内容 / its review; a returned one "
                                               "carries the comment and what was reported")


class Owed(_Out):
    kind: str
    window: str
    due: str
    standing: str
    standing_zh: str


class BranchSheet(_Out):
    """One branch as the form shows it: its roll, this quarter's meetings and what it still owes."""

    id: str
    name: str
    quarter: str
    today: str
    roll: list[RollEntry]
    names_known: bool = Field(description="花名册姓名是否可得 / whether the roll's names could be read")
    reported: list[ReportedMeeting]
    owed: list[Owed]


class FormAnswer(RowsAnswer):
    resubmitted: bool | None = Field(None, description="改正后重新提交 / sent again for review, when correcting")
