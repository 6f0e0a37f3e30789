"""L2 batch API, its sandbox, the reporter's view of their submissions, and the published contract."""

from __future__ import annotations

import json
from typing import Any

from alliance_shared.clock import SHANGHAI
from alliance_shared.contracts.envelope import (
    BATCH_CONTENT_TYPE,
    STRUCTURED_CONTENT_TYPE,
    EnvelopeError,
    is_json_media_type,
    parse_http_body,
)
from alliance_shared.contracts.published import PUBLISHED_DIR
from alliance_shared.contracts.vocabulary import Channel, Role
from alliance_shared.errors import Forbidden, Invalid, NotFound, PayloadTooLarge, UnsupportedMediaType
from alliance_shared.http import CurrentUser, Page, PageSize
from alliance_shared.paging import Cursor, continued, next_cursor
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..domain.filing import reporter_of
from ..domain.model import Submitted
from ..settings import ActivitySettings
from .deps import ActivityDep, event_answer
from .schemas import EventsAnswer, EventsDryRun, SchemaIndex, SubmissionPage

router = APIRouter(prefix="/api/v1", tags=["events"])


async def submitted_items(request: Request, settings: ActivitySettings) -> list[Submitted]:
    """The body's events, bounded: its size by the app (`MAX_BODY_BYTES`), its nesting and its
    count here."""
    content_type = request.headers.get("content-type", "")
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType(
            f"请求体须为 {STRUCTURED_CONTENT_TYPE} 或 {BATCH_CONTENT_TYPE} / "
            f"the body must be {STRUCTURED_CONTENT_TYPE} or {BATCH_CONTENT_TYPE}",
            field="Content-Type",
        )
    body = await request.body()
    limit = settings.batch_max_events
    try:
        raws = parse_http_body(content_type, body, max_depth=settings.max_json_depth)
    except EnvelopeError as exc:
        raise Invalid(f"请求体无效 / invalid body: {exc.reason}", field=exc.field) from None
    if not raws:
        raise Invalid("批次为空 / the batch is empty", field="$")
    if len(raws) > limit:
        raise PayloadTooLarge(f"每批最多 {limit} 个事件 / at most {limit} events per batch", field="$")
    return [Submitted(raw, _label(raw, i)) for i, raw in enumerate(raws)]


def _label(raw: object, index: int) -> str:
    """The event's id when it has a textual one, else its place in the batch."""
    event_id = raw.get("id") if isinstance(raw, dict) else None
    return event_id if isinstance(event_id, str) else f"#{index}"


@router.post("/events", status_code=202, response_model=EventsAnswer)
async def post_events(request: Request, user: CurrentUser, service: ActivityDep) -> JSONResponse:
    """One CloudEvent or a batch (≤ 5,000); the answer comes once accepted events are on Kafka."""
    reporter = reporter_of(user)
    items = await submitted_items(request, service.settings)
    report = await service.ingest(items, Channel.BATCH, reporter)
    return JSONResponse(event_answer(report), status_code=202)


@router.post("/events:validate", response_model=EventsDryRun, response_model_exclude_unset=True)
async def validate_events(request: Request, user: CurrentUser, service: ActivityDep) -> dict[str, Any]:
    """The sandbox: every check of the real endpoint; nothing is stored or published."""
    reporter = reporter_of(user)
    items = await submitted_items(request, service.settings)
    report = await service.ingest(items, Channel.BATCH, reporter, dry_run=True)
    return {"dry_run": True, **event_answer(report)}


@router.get("/submissions", response_model=SubmissionPage, response_model_exclude_unset=True)
async def list_submissions(
    user: CurrentUser,
    service: ActivityDep,
    status: str | None = Query(None, pattern="^(accepted|rejected)$"),
    institution_id: str | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """A reporter's own submissions (the secretariat sees every institution's), newest first.
    `next_cursor` continues after the page (keyset); `total` is counted on a first page only
    (unfiltered: the collection's estimate, `total_estimated`)."""
    position = continued(cursor, page)
    reporter: str | None = None
    if user.is_secretariat:
        scope = institution_id
    elif user.role is Role.REGULATOR:
        scope, reporter = None, user.subject
    elif user.is_machine or user.role in (Role.INSTITUTION_ADMIN, Role.BRANCH_SECRETARY):
        if user.institution_id is None:
            raise Forbidden("令牌缺少机构 / token carries no institution", field="institution_id")
        if institution_id is not None:
            user.require_institution(institution_id)
        scope = user.institution_id
    else:
        raise Forbidden("该角色不能查看上报记录 / this role cannot read submissions", field="role")
    docs, total, estimated = await service.submissions.list(
        status=status, institution_id=scope, reporter=reporter, limit=page_size, skip=(page - 1) * page_size,
        position=position, with_total=position is None,
    )
    answer = {"items": [_public(d) for d in docs[:page_size]],
              "next_cursor": next_cursor(docs, page_size, "received_at")}
    return answer | ({"total": total, "total_estimated": estimated} if total is not None else {})


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """An explicit answer shape: no outbox, no stored internals."""
    return {
        "id": doc.get("event_id") or doc.get("label"),
        "status": doc["status"],
        "channel": doc["channel"],
        "type": doc.get("type"),
        "row": doc.get("row"),
        "institution_id": doc.get("institution_id"),
        "organization_id": doc.get("organization_id"),
        "received_at": doc["received_at"].astimezone(SHANGHAI).isoformat(),
        "reasons": doc.get("reasons", []),
        "flags": doc.get("flags") or [],  # plausibility flags of an accepted event
        "superseded_by": doc.get("superseded_by"),
        "reporter": doc.get("reporter_key") or doc.get("reporter"),  # who filed it (key id or subject)
        "on_behalf_of": doc.get("on_behalf_of"),  # 上级代办: the branch a superior filed it for
    }


@router.get("/schemas", response_model=SchemaIndex)
async def list_schemas() -> dict[str, Any]:
    """The published JSON Schemas of every event type and the AsyncAPI document."""
    names = sorted(p.name for p in (PUBLISHED_DIR / "schemas").glob("*.json"))
    return {
        "schemas": [{"type": n.removesuffix(".json"), "href": f"/api/v1/schemas/{n}"} for n in names],
        "asyncapi": "/api/v1/schemas/asyncapi.json",
    }


PUBLISHED_DOCUMENT = {
    "description": "JSON Schema（或 AsyncAPI 文档）/ the published document",
    "content": {"application/json": {"schema": {"$ref": "https://json-schema.org/draft/2020-12/schema"}}},
}


@router.get("/schemas/{name}", responses={200: PUBLISHED_DOCUMENT})
async def get_schema(name: str) -> JSONResponse:
    if name == "asyncapi.json":
        path = PUBLISHED_DIR / "asyncapi.json"
    else:
        path = PUBLISHED_DIR / "schemas" / name
        if "/" in name or not name.endswith(".json") or not path.is_file():
            raise NotFound(f"没有该模式 / no schema {name}", field="name")
    return JSONResponse(json.loads(path.read_text(encoding="utf-8")))
