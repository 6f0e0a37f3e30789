"""The platform's audit trail, served by evaluation (`GET /api/v1/audit`, the dashboard's 审计日志
page and its workbook). Services do not share databases: registry, notification and activity (its
review steps) announce each record they write on their own events topic and evaluation projects it
here, next to the records of its own actions (period closes and unlocks, adjustments, appeals,
exemptions, ratings, follow-ups). Only the secretariat reads it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from alliance_shared.audit import audit_document, audit_record, id_floor
from alliance_shared.auth import Principal
from alliance_shared.contracts.audit import ActionAudited
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Forbidden, Invalid

from ..adapters.audit import FILTERS, AuditTrail

MAX_LIMIT = 500
MAX_ROUNDS = 10
CURSOR = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{10}")  # a record's id (alliance_shared.audit.audit_id)


async def record(
    trail: AuditTrail,
    who: Principal,
    action: str,
    object_type: str,
    object_id: str,
    at: datetime,
    *,
    institution_id: str | None = None,
    period: str | None = None,
    **details: Any,
) -> None:
    """Audit one of evaluation's own actions."""
    entry = audit_record(
        who, service="evaluation", action=action, object_type=object_type, object_id=object_id, at=at,
        institution_id=institution_id, period=period, details=details,
    )  # fmt: skip
    await trail.write(audit_document(entry))


async def on_audited(trail: AuditTrail, p: ActionAudited, e: CloudEvent) -> None:
    """Project a record another service announced (once: its id is the record's)."""
    await trail.write(audit_document(p))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def read(
    trail: AuditTrail,
    who: Principal,
    filters: dict[str, str | None],
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """A page of the trail, newest first; `next_cursor` continues it (None: the last page).
    Filters combine; the first named of actor, action, object and institution goes to the store
    with the time bounds, the others narrow that page's reads."""
    if not who.is_secretariat:
        asked = filters.get("institution_id")
        if asked and asked != who.institution_id:
            raise Forbidden("无权访问其他机构的数据 / not your institution", field="institution_id")
        who.require_role(Role.SECRETARIAT)
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"每页条数须在 1 到 {MAX_LIMIT} 之间 / limit must be 1 to {MAX_LIMIT}", field="limit")
    if cursor is not None and not CURSOR.fullmatch(cursor):
        raise Invalid("分页游标无效，请使用上一页答复中的 next_cursor / invalid cursor: use a next_cursor "
                      "from a previous answer", field="cursor")
    if since and until and _aware(since) >= _aware(until):
        raise Invalid("起始时间须早于截止时间 / `since` must be before `until`", field="since")
    named = {k: v for k, v in filters.items() if v}
    first = next((k for k in FILTERS if k in named), None)
    equal = {first: named[first]} if first else {}
    narrow = {k: v for k, v in named.items() if k != first}
    before = min(filter(None, [cursor, id_floor(until) if until else None]), default=None)
    floor = id_floor(since) if since else None
    items: list[dict[str, Any]] = []
    next_cursor: str | None = None
    # the other filters narrow pages of what the indexed one matched, a bounded number of them: a
    # short page with a cursor says there may be more further back
    for _ in range(MAX_ROUNDS):
        docs = await trail.page(equal, floor, before, limit + 1)
        for n, d in enumerate(docs[:limit]):
            if all(d.get(k) == v for k, v in narrow.items()):
                items.append(d)
                if len(items) == limit:
                    last_stored = n == len(docs) - 1
                    next_cursor = None if last_stored else d["_id"]
                    break
        else:
            if len(docs) <= limit:
                next_cursor = None
                break
            before = next_cursor = docs[limit - 1]["_id"]
            continue
        break
    return {"items": [shown(d) for d in items], "limit": limit, "next_cursor": next_cursor}


def shown(doc: dict[str, Any]) -> dict[str, Any]:
    out = {"id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}
    out["at"] = _aware(out["at"]) if isinstance(out.get("at"), datetime) else out.get("at")
    return out
