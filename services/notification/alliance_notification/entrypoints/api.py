"""HTTP routes of the notification service: thin — parse, authorize, call a use case, shape the answer."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any, Literal

from alliance_shared.auth import Principal, TokenVerifier
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Forbidden, Invalid, Unauthorized
from alliance_shared.http import CurrentUser, Page, PageSize
from alliance_shared.paging import Cursor, continued, next_cursor
from fastapi import APIRouter, Body, Header, Query, Request
from pydantic import BaseModel, Field, ValidationError

from ..domain.deliveries import receipt_status
from ..domain.errors import UnknownDelivery
from ..domain.receipts import ProviderName, parse_aliyun, parse_tencent, provider_of
from ..domain.rules import Rule
from ..domain.templates import MessageTemplate
from ..domain.timing import local_day
from ..handlers import NotificationUnit
from ..usecases import dispatch, editing
from .schemas import (
    CasePage,
    DeadLetterPage,
    DeliveryOut,
    DeliveryPage,
    Effectiveness,
    ProviderReceiptsAnswer,
    ReceiptAnswer,
    RuleList,
    SmsBudgets,
    SmsSpending,
    TemplateList,
    TemplatePreview,
    shown_at,
)

router = APIRouter(prefix="/api/v1", tags=["notification"])
MAX_RECEIPTS = 5_000


def _notifier(request: Request) -> NotificationUnit:
    notifier: NotificationUnit = request.app.state.notifier
    return notifier


def _secretariat(user: Principal) -> None:
    user.require_role(Role.SECRETARIAT)


@router.get("/deliveries", response_model=DeliveryPage, response_model_exclude_unset=True)
async def list_deliveries(
    request: Request,
    user: CurrentUser,
    organization_id: str | None = None,
    institution_id: str | None = None,
    status: Literal["queued", "deferred", "sending", "sent", "delivered", "failed", "cancelled"] | None = None,
    channel: Literal["email", "sms"] | None = None,
    rule: str | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The delivery log, newest first; `next_cursor` continues after the page (keyset), `total` is
    counted on a first page only (unfiltered: the collection's estimate, `total_estimated`)."""
    position = continued(cursor, page)
    scoped = user.role in (Role.INSTITUTION_ADMIN, Role.BRANCH_SECRETARY)
    if scoped and institution_id and institution_id != user.institution_id:
        # another institution is refused, never narrowed silently to the caller's own
        raise Forbidden("无权访问其他机构的数据 / not your institution", field="institution_id")
    if user.role is Role.INSTITUTION_ADMIN:
        if user.institution_id is None:
            raise Forbidden("令牌缺少机构 / token carries no institution", field="institution_id")
        institution_id = user.institution_id
    elif user.role is Role.BRANCH_SECRETARY:
        if organization_id and organization_id != user.organization_id:
            raise Forbidden("无权查看其他组织 / not your organisation", field="organization_id")
        organization_id = user.organization_id
    elif user.role is not Role.SECRETARIAT:
        raise Forbidden("需要秘书处或机构管理员角色 / requires secretariat or institution_admin")
    query: dict[str, Any] = {
        k: v
        for k, v in {
            "organization_id": organization_id,
            "institution_id": institution_id,
            "status": status,
            "channel": channel,
            "rule": rule,
        }.items()
        if v
    }
    docs, total, estimated = await _notifier(request).store.deliveries.page(
        query, page_size, (page - 1) * page_size, position, with_total=position is None)
    answer = {"items": [DeliveryOut.of(d).model_dump() for d in docs[:page_size]],
              "next_cursor": next_cursor(docs, page_size, "created_at")}
    return answer | ({"total": total, "total_estimated": estimated} if total is not None else {})


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(request: Request, user: CurrentUser, delivery_id: str) -> dict[str, Any]:
    doc = await _notifier(request).store.deliveries.get(delivery_id)
    if doc is None:
        raise UnknownDelivery("未找到该投递 / unknown delivery", field="delivery_id")
    if not user.is_secretariat:
        user.require_institution(doc.get("institution_id") or "")
    return DeliveryOut.of(doc).model_dump()


@router.post("/deliveries/{delivery_id}/retry", response_model=DeliveryOut)
async def retry_delivery(request: Request, user: CurrentUser, delivery_id: str) -> dict[str, Any]:
    _secretariat(user)
    return DeliveryOut.of(await dispatch.requeue(_notifier(request), delivery_id)).model_dump()


@router.get("/dead-letters", response_model=DeadLetterPage)
async def dead_letters(
    request: Request, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=500)] = 100, cursor: Cursor = None
) -> dict[str, Any]:
    """Dead-lettered deliveries, newest first; `next_cursor` continues after the page."""
    _secretariat(user)
    docs = await _notifier(request).store.deliveries.dead_letters(limit, continued(cursor, 1))
    return {
        "next_cursor": next_cursor(docs, limit, "at"),
        "items": [
            {
                "delivery_id": d["delivery_id"],
                "rule": d.get("rule"),
                "channel": d.get("channel"),
                "organization_id": d.get("organization_id"),
                "recipient": d.get("recipient_masked"),
                "reason": d["reason"],
                "at": shown_at(d["at"]),
                "requeued": d.get("requeued", False),
            }
            for d in docs[:limit]
        ],
    }


class ReceiptIn(BaseModel):
    delivery_id: str | None = Field(default=None, max_length=100)
    provider_message_id: str | None = Field(default=None, max_length=200)
    provider: str | None = Field(default=None, max_length=40)
    receipt_id: str | None = Field(default=None, max_length=200)
    status: str = Field(min_length=1, max_length=40)
    error: str | None = Field(default=None, max_length=500)
    code: str | None = Field(default=None, max_length=80)


def _receipt_caller(request: Request, given: str | None) -> None:
    """Providers sign none of their pushes (Alibaba Cloud's SmsReport and Tencent Cloud's status
    callback say so by omission): the receiving URL configured in their consoles carries the
    platform's receipt token (`?token=`), or a caller sends it in X-Receipt-Token; a secretariat
    JWT also works. Compared in constant time."""
    token = _notifier(request).settings.receipt_token
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise Unauthorized("需要回执令牌 / receipt token required", field="X-Receipt-Token")
    verifier: TokenVerifier = request.app.state.tokens
    _secretariat(verifier.verify(auth[7:].strip()))


ReceiptToken = Annotated[str | None, Query(max_length=200, description="the platform's receipt token")]
ReceiptHeader = Annotated[str | None, Header(max_length=200)]


async def _provider_receipts(request: Request, provider: ProviderName | None, body: Any) -> dict[str, Any]:
    if not isinstance(body, list):
        raise Invalid("回执须为 JSON 数组 / the receipts must be a JSON array", field="body")
    if len(body) > MAX_RECEIPTS:
        raise Invalid(
            f"单次最多 {MAX_RECEIPTS} 条回执 / at most {MAX_RECEIPTS} receipts a call", field="body"
        )
    provider = provider or provider_of(body)
    if provider is None:
        raise Invalid("无法识别回执格式 / neither Aliyun SmsReport nor Tencent status callback", field="body")
    receipts, refused = (parse_aliyun if provider == "aliyun" else parse_tencent)(body)
    if refused and not receipts:
        first = refused[0]
        raise Invalid(first.reason, field=first.field)
    counts = await dispatch.accept_provider_receipts(_notifier(request), receipts)
    answer = {
        **counts,
        "rejected": [{"index": r.index, "field": r.field, "reason": r.reason} for r in refused],
    }
    # each provider checks its own answer: Aliyun a numeric `code`, Tencent `result` 0
    if provider == "aliyun":
        return {"code": 0, "msg": "接收成功", **answer}
    return {"result": 0, "errmsg": "OK", **answer}


@router.post("/receipts", response_model=ReceiptAnswer | ProviderReceiptsAnswer, response_model_exclude_none=True)
async def receipt(
    request: Request,
    body: Annotated[Any, Body()],
    x_receipt_token: ReceiptHeader = None,
    token: ReceiptToken = None,
) -> dict[str, Any]:
    """A receipt in the platform's shape (one object), or a provider's array (told apart by its fields)."""
    _receipt_caller(request, x_receipt_token or token)
    if isinstance(body, list):
        return await _provider_receipts(request, None, body)
    try:
        one = ReceiptIn.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise Invalid(
            f"回执无效 / invalid receipt: {err['msg']}", field=".".join(str(p) for p in err["loc"]) or "body"
        ) from None
    status = receipt_status(one.status)
    if status is None:
        raise Invalid("回执状态无效 / status must be delivered or failed", field="status")
    if not one.delivery_id and not one.provider_message_id:
        raise Invalid("需要 delivery_id 或 provider_message_id / one id is required", field="delivery_id")
    return await dispatch.accept_receipt(
        _notifier(request),
        delivery_id=one.delivery_id,
        provider_message_id=one.provider_message_id,
        status=status,
        receipt_id=one.receipt_id,
        provider=one.provider,
        error=one.error,
        code=one.code,
    )


@router.post("/receipts/aliyun", response_model=ProviderReceiptsAnswer, response_model_exclude_none=True)
async def aliyun_receipts(
    request: Request,
    body: Annotated[Any, Body()],
    x_receipt_token: ReceiptHeader = None,
    token: ReceiptToken = None,
) -> dict[str, Any]:
    """Alibaba Cloud SmsReport (HTTP batch push): its JSON array, answered {"code": 0, "msg": "接收成功"}."""
    _receipt_caller(request, x_receipt_token or token)
    return await _provider_receipts(request, "aliyun", body)


@router.post("/receipts/tencent", response_model=ProviderReceiptsAnswer, response_model_exclude_none=True)
async def tencent_receipts(
    request: Request,
    body: Annotated[Any, Body()],
    x_receipt_token: ReceiptHeader = None,
    token: ReceiptToken = None,
) -> dict[str, Any]:
    """Tencent Cloud SMS status callback: its JSON array, answered {"result": 0, "errmsg": "OK"}."""
    _receipt_caller(request, x_receipt_token or token)
    return await _provider_receipts(request, "tencent", body)


@router.get("/rules", response_model=RuleList)
async def list_rules(request: Request, user: CurrentUser) -> dict[str, Any]:
    _secretariat(user)
    return {"items": [r.model_dump(mode="json") for r in await _notifier(request).store.catalog.rules()]}


@router.put("/rules/{name}", response_model=Rule)
async def put_rule(
    request: Request, user: CurrentUser, name: str, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    _secretariat(user)
    return (await editing.put_rule(_notifier(request), name, body, user)).model_dump(mode="json")


@router.get("/templates", response_model=TemplateList)
async def list_templates(request: Request, user: CurrentUser) -> dict[str, Any]:
    _secretariat(user)
    return {"items": [t.model_dump(mode="json") for t in await _notifier(request).store.catalog.templates()]}


@router.put("/templates/{name}", response_model=MessageTemplate)
async def put_template(
    request: Request, user: CurrentUser, name: str, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    _secretariat(user)
    return (await editing.put_template(_notifier(request), name, body, user)).model_dump(mode="json")


class PreviewIn(BaseModel):
    context: dict[str, Any] = Field(default_factory=dict)


@router.post("/templates/{name}/preview", response_model=TemplatePreview)
async def preview(
    request: Request, user: CurrentUser, name: str, body: PreviewIn | None = None
) -> dict[str, Any]:
    _secretariat(user)
    return await editing.preview_template(_notifier(request), name, (body or PreviewIn()).context)


@router.get("/cases", response_model=CasePage)
async def list_cases(
    request: Request,
    user: CurrentUser,
    status: Literal["open", "resolved"] | None = "open",
    step: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Escalation cases, newest first; `?step=secretariat` is the secretariat's list; `next_cursor`
    continues after the page."""
    _secretariat(user)
    docs = await _notifier(request).store.cases.list(status=status, step=step, limit=limit,
                                                     position=continued(cursor, 1))
    return {
        "next_cursor": next_cursor(docs, limit, "opened_at"),
        "items": [
            {
                "id": d["_id"],
                "rule": d["rule"],
                "organization_id": d["organization_id"],
                "institution_id": d.get("institution_id"),
                "period": d["period"],
                "status": d["status"],
                "step": d.get("step"),
                "opened_at": shown_at(d["opened_at"]),
                "next_step_at": shown_at(d.get("next_step_at")),
                "resolved_at": shown_at(d.get("resolved_at")),
            }
            for d in docs[:limit]
        ],
    }


def _own_institution(user: Principal, institution_id: str | None) -> str | None:
    """The secretariat reads any institution (or all); an institution admin only its own."""
    if user.is_secretariat:
        return institution_id
    if institution_id and institution_id != user.institution_id:
        # another institution is refused by name, whoever asks (a branch secretary too)
        raise Forbidden("无权访问其他机构的数据 / not your institution", field="institution_id")
    user.require_role(Role.INSTITUTION_ADMIN)
    if user.institution_id is None:
        raise Forbidden("令牌缺少机构 / token carries no institution", field="institution_id")
    return user.institution_id


@router.get("/reminders/effectiveness", response_model=Effectiveness)
async def reminder_effectiveness(
    request: Request,
    user: CurrentUser,
    since: datetime | None = None,
    within_days: Annotated[int, Query(ge=1, le=14)] = 14,
    institution_id: str | None = None,
) -> dict[str, Any]:
    """The closed loop: of the reminders sent to branches, how many reported within 14 days; and
    the share reported within `within_days` per channel, rule step and hour of sending."""
    scope = _own_institution(user, institution_id)
    if since is not None and since.tzinfo is None:
        raise Invalid("since 需带时区 / since must carry a UTC offset", field="since")
    return await editing.effectiveness(
        _notifier(request), since, within_days=within_days, institution_id=scope
    )


Month = Annotated[
    str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="2026-09; this month if absent")
]


@router.get("/sms-budgets", response_model=SmsBudgets)
async def sms_budgets(
    request: Request, user: CurrentUser, month: Month = None, institution_id: str | None = None
) -> dict[str, Any]:
    """Each institution's SMS this month (or `month`): count, parts, cost and budget, in yuan."""
    scope = _own_institution(user, institution_id)
    notifier = _notifier(request)
    month = month or local_day(notifier.clock.now())[:7]
    return await editing.sms_spending(notifier, month, [scope] if scope else None)


@router.put("/institutions/{institution_id}/sms-budget", response_model=SmsSpending)
async def put_sms_budget(
    request: Request, user: CurrentUser, institution_id: str, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Secretariat: `{"monthly_budget_cny": 50.0, "version": n}` (null: no limit; version as read, 0 at first)."""
    _secretariat(user)
    return await editing.put_sms_budget(_notifier(request), institution_id, body, user)
