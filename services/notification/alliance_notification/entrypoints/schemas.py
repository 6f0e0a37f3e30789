"""The notification API's answers, each a declared model: every route names its `response_model`,
so the OpenAPI documents every answer and a stored field no model names (a sealed contact, a
provider's raw receipt) is dropped rather than served. Times are shown in Asia/Shanghai."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..domain.delivery_reasons import explain, reason_zh
from ..domain.rules import Rule
from ..domain.templates import MessageTemplate
from ..domain.timing import shanghai_text


def shown_at(value: Any) -> Any:
    return shanghai_text(value) if isinstance(value, datetime) else value


class HistoryEntry(BaseModel):
    status: str
    at: str
    attempt: int = 0
    provider: str | None = None
    error: str | None = None
    code: str | None = None
    reason_zh: str | None = None  # why it was not delivered, in Chinese
    note: str | None = None
    until: str | None = None


class DeliveryOut(BaseModel):
    """A delivery as shown: the recipient masked, times in Asia/Shanghai."""

    id: str
    rule: str
    step: str
    channel: Literal["email", "sms"]
    recipient: str | None
    status: str
    attempts: int
    provider: str | None
    organization_id: str | None
    institution_id: str | None
    period: str | None
    created_at: str
    due_at: str | None
    reason_zh: str | None = None  # why the latest attempt was not delivered, in Chinese
    history: list[HistoryEntry]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> DeliveryOut:
        return cls(
            id=doc["_id"],
            rule=doc["rule"],
            step=doc["step"],
            channel=doc["channel"],
            recipient=doc.get("recipient_masked"),
            status=doc["status"],
            attempts=doc.get("attempts", 0),
            provider=doc.get("provider"),
            organization_id=doc.get("organization_id"),
            institution_id=doc.get("institution_id"),
            period=doc.get("period"),
            created_at=shown_at(doc["created_at"]),
            due_at=shown_at(doc.get("due_at")),
            reason_zh=doc.get("reason_zh")
            or (
                explain(doc.get("last_error_code"), doc.get("last_error"))
                if doc["status"] in ("failed", "queued", "deferred") and doc.get("last_error")
                else None
            )
            or (reason_zh("waiting_contact") if doc["status"] == "queued" and doc.get("waiting_contact") else None),
            history=[_entry(h) for h in doc.get("history", [])],
        )


def _entry(h: dict[str, Any]) -> HistoryEntry:
    entry = {k: shown_at(v) for k, v in h.items() if k in HistoryEntry.model_fields}
    if h.get("error") and not h.get("reason_zh"):  # written before reasons were stored: read it now
        entry["code"] = h.get("code") or None
        entry["reason_zh"] = explain(h.get("code"), h.get("error"))
    return HistoryEntry(**entry)


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(description="下一页的游标 / continues after this page; null on the last")
    total: int | None = Field(None, description="仅首页给出 / on a first page only")
    total_estimated: bool | None = Field(None, description="total 为集合估计值 / total is the collection's estimate")


class DeadLetterOut(BaseModel):
    delivery_id: str
    rule: str | None
    channel: str | None
    organization_id: str | None
    recipient: str | None = Field(description="掩码 / masked")
    reason: str
    at: str
    requeued: bool


class DeadLetterPage(BaseModel):
    next_cursor: str | None
    items: list[DeadLetterOut]


class ReceiptAnswer(BaseModel):
    """One receipt in the platform's shape, applied (or recognised as a repeat)."""

    delivery_id: str
    status: str
    duplicate: bool


class ReceiptRefused(BaseModel):
    index: int
    field: str
    reason: str


class ProviderReceiptsAnswer(BaseModel):
    """A provider's pushed receipts: what changed, and each refused with its reason. Alibaba Cloud
    reads `code`/`msg`, Tencent Cloud `result`/`errmsg`; each gets its own pair."""

    delivered: int
    failed: int
    duplicates: int
    unmatched: list[str] = Field(description="未匹配投递的服务商流水号 / provider ids that matched no delivery")
    rejected: list[ReceiptRefused]
    code: int | None = None
    msg: str | None = None
    result: int | None = None
    errmsg: str | None = None


class EmailPreview(BaseModel):
    subject: str
    text: str


class SmsPreview(BaseModel):
    text: str
    params: dict[str, str] = Field(description="模板参数 / the template's parameters")
    provider_codes: dict[str, str] = Field(description="服务商模板编号 / the providers' template codes")


class TemplatePreview(BaseModel):
    name: str
    email: EmailPreview
    sms: SmsPreview | None


class CaseOut(BaseModel):
    id: str
    rule: str
    organization_id: str
    institution_id: str | None
    period: str
    status: str
    step: str | None
    opened_at: str
    next_step_at: str | None
    resolved_at: str | None


class CasePage(BaseModel):
    next_cursor: str | None
    items: list[CaseOut]


class Outcomes(BaseModel):
    reminders: int
    reported: int
    not_reported: int
    window_open: int
    rate: float | None


class ByChannel(Outcomes):
    channel: str
    label: str


class ByStep(Outcomes):
    rule: str
    step: str
    label: str


class ByHour(Outcomes):
    hour: int
    label: str


class Breakdown(BaseModel):
    within_days: int
    by_channel: list[ByChannel]
    by_step: list[ByStep]
    by_hour: list[ByHour]


class Effectiveness(BaseModel):
    """The closed loop: of the reminders sent to branches, how many reported within 14 days."""

    reminders: int
    reported_within_14_days: int
    not_reported_within_14_days: int
    window_open: int
    rate: float | None = Field(description="已判定者中的比例 / over the decided ones; null until one is")
    breakdown: Breakdown


class SmsSpending(BaseModel):
    institution_id: str
    institution_name: str | None
    month: str
    sms: int
    segments: int = Field(description="计费条数 / billed parts")
    cost_cny: float | None
    monthly_budget_cny: float | None
    remaining_cny: float | None
    over_budget: bool
    version: int


class SmsBudgets(BaseModel):
    month: str
    price_cny_per_sms: float
    items: list[SmsSpending]


class RuleList(BaseModel):
    items: list[Rule]


class TemplateList(BaseModel):
    items: list[MessageTemplate]
