"""The evaluators' and the secretariat's queues (待办): adjustments awaiting a second approver,
open appeals and the exemptions granted, each a bounded page with what the caller may do with each
item. Who sees what: the secretariat everything; a regulator reads everything and acts on nothing;
an evaluator the adjustments they proposed; an institution's Party admin its own institution's
appeals and exemptions. Acting stays on the existing POST routes (`usecases/score_decisions.py`)."""

from __future__ import annotations

from typing import Any, Literal

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Forbidden

from .unit import EvaluationUnit

AdjustmentStatus = Literal["pending", "approved", "rejected"]
AppealStatus = Literal["open", "upheld", "dismissed"]


def _own(who: Principal, institution_id: str | None) -> str | None:
    """The institution a scoped caller lists: their own; naming another is 403."""
    if who.role in (Role.SECRETARIAT, Role.REGULATOR):
        return institution_id
    if who.institution_id is None or (institution_id and institution_id != who.institution_id):
        raise Forbidden("无权访问其他机构的数据 / not your institution", field="institution_id")
    return who.institution_id


async def _named(ev: EvaluationUnit, docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    branches = [d.get("object_id") or d.get("organization_id") for d in docs]
    orgs = await ev.projections.names("organizations", [b for b in branches if b])
    insts = await ev.projections.names(
        "institutions", [i for d in docs for i in (d.get("institution_id"), d.get("object_id")) if i]
    )
    return orgs, insts


def _item(doc: dict[str, Any], orgs: dict[str, Any], insts: dict[str, Any], **can: bool) -> dict[str, Any]:
    obj = doc.get("object_id") or doc.get("organization_id")
    name = orgs.get(obj or "") if doc.get("object_type", "branch") == "branch" else insts.get(obj or "")
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}, "object_name": name,
            "institution_name": insts.get(doc.get("institution_id") or ""), **can}  # fmt: skip


async def adjustments(
    ev: EvaluationUnit, who: Principal, status: AdjustmentStatus | None, period: str | None,
    institution_id: str | None, page: int, page_size: int,
) -> dict[str, Any]:  # fmt: skip
    """Manual adjustments, pending by default: the secretariat decides one another person proposed."""
    scoped = _own(who, institution_id) if institution_id else None
    who.require_role(Role.SECRETARIAT, Role.REGULATOR, Role.EVALUATOR)
    query: dict[str, Any] = {"status": status or "pending"}
    if who.role is Role.EVALUATOR:
        query["proposed_by"] = who.subject  # their own proposals, and what became of them
    if scoped:
        query["institution_id"] = scoped
    if period:
        query["period"] = period
    skip = (page - 1) * page_size
    docs, total = await ev.models.score_decisions("adjustments", query, "proposed_at", skip, page_size)
    orgs, insts = await _named(ev, docs)
    items = [
        _item(d, orgs, insts, can_decide=who.is_secretariat and d.get("status") == "pending"
              and d.get("proposed_by") != who.subject)
        for d in docs
    ]  # fmt: skip
    return {"items": items, "total": total, "page": page, "page_size": page_size}


async def appeals(
    ev: EvaluationUnit, who: Principal, status: AppealStatus | None, period: str | None,
    institution_id: str | None, page: int, page_size: int,
) -> dict[str, Any]:  # fmt: skip
    """Appeals, open by default: the secretariat resolves them; an institution reads its own."""
    scoped = _own(who, institution_id)
    who.require_role(Role.SECRETARIAT, Role.REGULATOR, Role.INSTITUTION_ADMIN)
    query: dict[str, Any] = {"status": status or "open"}
    if scoped:
        query["institution_id"] = scoped
    if period:
        query["period"] = period
    docs, total = await ev.models.score_decisions("appeals", query, "filed_at", (page - 1) * page_size, page_size)
    orgs, insts = await _named(ev, docs)
    items = [_item(d, orgs, insts, can_resolve=who.is_secretariat and d.get("status") == "open") for d in docs]
    return {"items": items, "total": total, "page": page, "page_size": page_size}


async def exemptions(
    ev: EvaluationUnit, who: Principal, institution_id: str | None, page: int, page_size: int
) -> dict[str, Any]:
    """Exemptions granted (a branch excused from reporting for a while), newest first."""
    scoped = _own(who, institution_id)
    who.require_role(Role.SECRETARIAT, Role.REGULATOR, Role.INSTITUTION_ADMIN)
    query: dict[str, Any] = {"institution_id": scoped} if scoped else {}
    docs, total = await ev.models.score_decisions("exemptions", query, "granted_at", (page - 1) * page_size, page_size)
    orgs, insts = await _named(ev, docs)
    items = [_item(d, orgs, insts) for d in docs]
    return {"items": items, "total": total, "page": page, "page_size": page_size,
            "can_grant": who.is_secretariat}  # fmt: skip
