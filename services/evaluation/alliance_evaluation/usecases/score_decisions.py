"""What people do to scores: evaluators rate the objects assigned to them, a manual adjustment
needs a reason and a second person's approval, an institution appeals and the secretariat
resolves. Every step is audited; every accepted change queues the period for rescoring."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Forbidden
from alliance_shared.ids import uuid4
from pydantic import BaseModel, ConfigDict, Field

from ..domain.errors import AlreadyDecided, NotAssigned, PeriodClosed, SecondPersonRequired, UnknownCase
from ..domain.periods import Period
from . import audit
from .unit import EvaluationUnit

ObjectType = Literal["institution", "branch"]


class RateObject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: str = Field(pattern=r"^\d{4}-Q[1-4]$")
    object_type: ObjectType
    object_id: str = Field(min_length=1, max_length=100)
    rating: Literal["excellent", "good", "average", "poor"]
    comment: str = Field(default="", max_length=2000)


class ProposeAdjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: str = Field(pattern=r"^\d{4}-Q[1-4]$")
    object_type: ObjectType
    object_id: str = Field(min_length=1, max_length=100)
    points: Decimal = Field(ge=-20, le=20, decimal_places=2)
    reason: str = Field(min_length=4, max_length=2000)


class DecideAdjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approved", "rejected"]
    note: str = Field(default="", max_length=2000)


class FileAppeal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: str = Field(pattern=r"^\d{4}-Q[1-4]$")
    object_type: ObjectType
    object_id: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=4, max_length=4000)


class ResolveAppeal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["upheld", "dismissed"]
    note: str = Field(min_length=1, max_length=4000)


class GrantExemption(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organization_id: str = Field(min_length=1, max_length=100)
    kind: str | None = None
    start: date
    end: date
    reason: str = Field(min_length=4, max_length=2000)


async def _institutions_of(unit: EvaluationUnit, object_type: str, object_id: str) -> list[str]:
    if object_type == "institution":
        return [object_id]
    return await unit.projections.institutions_of_orgs([object_id])


async def _open(unit: EvaluationUnit, period: str) -> None:
    doc = await unit.models.period(period)
    if doc and doc.get("status") == "closed":
        raise PeriodClosed(period)


async def _audit(
    unit: EvaluationUnit, who: Principal, action: str, object_type: str, object_id: str, period: str | None,
    **details: Any,
) -> None:
    institutions = await _institutions_of(unit, object_type, object_id)
    await audit.record(
        unit.models.trail, who, action, object_type, object_id, unit.clock.now(),
        institution_id=institutions[0] if institutions else None, period=period, **details,
    )  # fmt: skip


async def rate(unit: EvaluationUnit, who: Principal, cmd: RateObject) -> dict[str, Any]:
    Period.parse(cmd.period)
    who.require_role(Role.EVALUATOR, Role.SECRETARIAT)
    institutions = await _institutions_of(unit, cmd.object_type, cmd.object_id)
    if who.role is Role.EVALUATOR:
        assigned = (
            who.organization_id == cmd.object_id
            if who.organization_id
            else who.institution_id is not None and who.institution_id in institutions
        )
        if not assigned:
            raise NotAssigned()
    await _open(unit, cmd.period)
    rating_id = f"r-{uuid4().hex[:16]}"
    doc = {
        "_id": f"{cmd.period}|{cmd.object_type}|{cmd.object_id}|{who.subject}",
        "rating_id": rating_id,
        "evaluator": who.subject,
        "at": unit.clock.now(),
        **cmd.model_dump(),
    }
    await unit.models.save_rating(doc)
    await _audit(
        unit, who, "rating.submitted", cmd.object_type, cmd.object_id, cmd.period, rating_id=rating_id,
        rating=cmd.rating,
    )
    await unit.models.mark_dirty(cmd.period, institutions, unit.clock.now())
    return {"id": rating_id, **cmd.model_dump(), "evaluator": who.subject}


async def propose_adjustment(unit: EvaluationUnit, who: Principal, cmd: ProposeAdjustment) -> dict[str, Any]:
    who.require_role(Role.SECRETARIAT, Role.EVALUATOR)
    await _open(unit, cmd.period)
    adj_id = f"adj-{uuid4().hex[:12]}"
    institutions = await _institutions_of(unit, cmd.object_type, cmd.object_id)
    doc = {
        "_id": adj_id,
        **cmd.model_dump(mode="json"),
        "institution_id": institutions[0] if institutions else None,  # the queue's filter
        "points": str(cmd.points),
        "status": "pending",
        "proposed_by": who.subject,
        "proposed_at": unit.clock.now(),
    }
    await unit.models.insert("adjustments", doc)
    await _audit(
        unit, who, "adjustment.proposed", cmd.object_type, cmd.object_id, cmd.period, adjustment_id=adj_id,
        points=str(cmd.points), reason=cmd.reason,
    )
    return _public(doc)


async def decide_adjustment(unit: EvaluationUnit, who: Principal, adj_id: str, cmd: DecideAdjustment) -> dict[str, Any]:
    who.require_role(Role.SECRETARIAT)
    doc = await unit.models.get("adjustments", adj_id)
    if doc is None:
        raise UnknownCase("adjustment", adj_id)
    if doc["proposed_by"] == who.subject:
        raise SecondPersonRequired()
    await _open(unit, doc["period"])
    decided = await unit.models.decide(
        "adjustments",
        adj_id,
        "pending",
        {
            "status": cmd.decision,
            "decided_by": who.subject,
            "decided_at": unit.clock.now(),
            "note": cmd.note,
        },
    )
    if decided is None:
        raise AlreadyDecided("adjustment")
    await _audit(
        unit, who, f"adjustment.{cmd.decision}", doc["object_type"], doc["object_id"], doc["period"],
        adjustment_id=adj_id, points=doc.get("points"), proposed_by=doc.get("proposed_by"), note=cmd.note,
    )
    if cmd.decision == "approved":
        await unit.models.mark_dirty(
            doc["period"],
            await _institutions_of(unit, doc["object_type"], doc["object_id"]),
            unit.clock.now(),
        )
    return _public(decided)


async def file_appeal(unit: EvaluationUnit, who: Principal, cmd: FileAppeal) -> dict[str, Any]:
    institutions = await _institutions_of(unit, cmd.object_type, cmd.object_id)
    if not who.is_secretariat and (
        who.role is not Role.INSTITUTION_ADMIN or who.institution_id not in institutions
    ):
        raise Forbidden(
            "只能对本机构的评分提出申诉 / you can only appeal your own institution's scores",
            field="object_id",
        )
    appeal_id = f"ap-{uuid4().hex[:12]}"
    score = await unit.models.score(cmd.period, cmd.object_type, cmd.object_id)
    doc = {
        "_id": appeal_id,
        **cmd.model_dump(),
        "institution_id": institutions[0] if institutions else None,
        "status": "open",
        "filed_by": who.subject,
        "filed_at": unit.clock.now(),
        "computation_id": score.get("computation_id") if score else None,
    }
    await unit.models.insert("appeals", doc)
    await _audit(unit, who, "appeal.filed", cmd.object_type, cmd.object_id, cmd.period, appeal_id=appeal_id)
    return _public(doc)


async def resolve_appeal(unit: EvaluationUnit, who: Principal, appeal_id: str, cmd: ResolveAppeal) -> dict[str, Any]:
    who.require_role(Role.SECRETARIAT)
    decided = await unit.models.decide(
        "appeals",
        appeal_id,
        "open",
        {
            "status": cmd.decision,
            "resolved_by": who.subject,
            "resolved_at": unit.clock.now(),
            "note": cmd.note,
        },
    )
    if decided is None:
        if await unit.models.get("appeals", appeal_id) is None:
            raise UnknownCase("appeal", appeal_id)
        raise AlreadyDecided("appeal")
    await _audit(
        unit, who, f"appeal.{cmd.decision}", decided["object_type"], decided["object_id"], decided["period"],
        appeal_id=appeal_id, note=cmd.note,
    )
    return _public(decided)


async def exempt(unit: EvaluationUnit, who: Principal, cmd: GrantExemption) -> dict[str, Any]:
    who.require_role(Role.SECRETARIAT)
    ex_id = f"ex-{uuid4().hex[:12]}"
    institutions = await _institutions_of(unit, "branch", cmd.organization_id)
    doc = {"_id": ex_id, **cmd.model_dump(mode="json"), "granted_by": who.subject,
           "granted_at": unit.clock.now(), "institution_id": institutions[0] if institutions else None}
    await unit.models.insert("exemptions", doc)
    await _audit(
        unit, who, "exemption.granted", "branch", cmd.organization_id, None, exemption_id=ex_id, kind=cmd.kind,
        start=cmd.start, end=cmd.end, reason=cmd.reason,
    )
    for p in {Period.of_day(cmd.start), Period.of_day(cmd.end)}:
        if not await unit.is_closed(str(p)):
            await unit.models.mark_dirty(str(p), institutions, unit.clock.now())
    return _public(doc)


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}
