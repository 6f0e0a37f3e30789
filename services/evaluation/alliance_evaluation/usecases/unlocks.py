"""Unlock exceptions of a closed period (DHIS2's lock exceptions): the secretariat lets one branch
or one institution report into a closed period until a moment, saying who asked and why; it can
revoke the exception. Activity refuses reports into a closed period unless an exception covers
them, and says which of the two refused them. Every grant and revocation is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.evaluation import PeriodUnlocked, PeriodUnlockRevoked
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Conflict, Invalid, NotFound
from alliance_shared.ids import uuid4
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..adapters.scorebook import SOURCE
from ..adapters.unlocks import UnlockStore
from ..domain.periods import Period
from . import audit
from .unit import EvaluationUnit


class GrantUnlock(BaseModel):
    """The request body of a grant: one branch or one institution, who asked, why, until when."""

    model_config = ConfigDict(extra="forbid")
    organization_id: str | None = Field(default=None, min_length=1, max_length=100)
    institution_id: str | None = Field(default=None, min_length=1, max_length=100)
    requested_by: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=4, max_length=2000)
    until: AwareDatetime


def status_of(entry: dict[str, Any], now: datetime) -> str:
    """active (reports are let in), expired (its end passed) or revoked."""
    if entry.get("revoked_at"):
        return "revoked"
    return "active" if now < entry["until"] else "expired"


def shown(entry: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {**{k: v for k, v in entry.items() if k != "event_id"}, "status": status_of(entry, now)}


def _store(unit: EvaluationUnit) -> UnlockStore:
    assert unit.unlocks is not None, "the composition root gives the unit its unlock store"
    return unit.unlocks


async def grant(unit: EvaluationUnit, period_text: str, body: GrantUnlock, who: Principal) -> dict[str, Any]:
    who.require_role(Role.SECRETARIAT)
    if (body.organization_id is None) == (body.institution_id is None):
        raise Invalid(
            "须指定一个党支部或一个机构 / name one branch (organization_id) or one institution",
            field="organization_id",
        )
    period = str(Period.parse(period_text))
    now = unit.clock.now()
    if body.until <= now:
        raise Invalid("解锁截止时间须晚于现在 / `until` must be in the future", field="until")
    doc, unlocks, version = await _store(unit).of_period(period)
    if doc is None or doc.get("status") != "closed":
        raise Conflict(
            f"该期间未关闭，无需解锁 / period {period} is not closed", field="period", code="period_open"
        )
    if body.organization_id is not None and not await unit.projections.institutions_of_orgs(
        [body.organization_id]
    ):
        raise NotFound("没有该党支部 / no such branch", field="organization_id")
    entry = {
        "id": uuid4().hex,
        "organization_id": body.organization_id,
        "institution_id": body.institution_id,
        "requested_by": body.requested_by,
        "granted_by": who.subject,
        "reason": body.reason,
        "until": body.until,
        "granted_at": now,
        "revoked_at": None,
        "revoked_by": None,
    }
    payload = PeriodUnlocked(
        exception_id=entry["id"], period=period, organization_id=body.organization_id,
        institution_id=body.institution_id, requested_by=body.requested_by, granted_by=who.subject,
        reason=body.reason, until=body.until, granted_at=now,
    )  # fmt: skip
    announced = [(payload, envelope(payload, source=SOURCE))]
    if not await _store(unit).write(period, version, [*unlocks, entry], announced):
        raise Conflict("解锁例外刚被他人修改，请重试 / changed meanwhile: try again", field="period")
    await _audit(unit, "period.unlocked", period, who, now, entry)
    return shown(entry, now)


async def revoke(unit: EvaluationUnit, period_text: str, exception_id: str, who: Principal) -> dict[str, Any]:
    who.require_role(Role.SECRETARIAT)
    period = str(Period.parse(period_text))
    now = unit.clock.now()
    _, unlocks, version = await _store(unit).of_period(period)
    entry = next((u for u in unlocks if u["id"] == exception_id), None)
    if entry is None:
        raise NotFound("没有该解锁例外 / no such unlock exception", field="exception_id")
    if entry.get("revoked_at"):
        raise Conflict("该解锁例外已撤销 / already revoked", field="exception_id", code="already_revoked")
    entry = {**entry, "revoked_at": now, "revoked_by": who.subject}
    payload = PeriodUnlockRevoked(
        exception_id=exception_id, period=period, organization_id=entry.get("organization_id"),
        institution_id=entry.get("institution_id"), revoked_by=who.subject, revoked_at=now,
    )  # fmt: skip
    rest = [entry if u["id"] == exception_id else u for u in unlocks]
    if not await _store(unit).write(period, version, rest, [(payload, envelope(payload, source=SOURCE))]):
        raise Conflict("解锁例外刚被他人修改，请重试 / changed meanwhile: try again", field="period")
    await _audit(unit, "period.unlock_revoked", period, who, now, entry)
    return shown(entry, now)


async def of(
    unit: EvaluationUnit, period_text: str, *, organization_id: str | None = None,
    institution_ids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The period's exceptions (those covering a branch: its own, or its institutions'), newest first."""
    period = str(Period.parse(period_text))
    now = unit.clock.now()
    _, unlocks, _ = await _store(unit).of_period(period)
    if organization_id is not None:
        covering = set(institution_ids or [])
        unlocks = [
            u for u in unlocks if u.get("organization_id") == organization_id or u.get("institution_id") in covering
        ]
    return [shown(u, now) for u in sorted(unlocks, key=lambda u: u["granted_at"], reverse=True)]


async def _audit(
    unit: EvaluationUnit, action: str, period: str, who: Principal, at: datetime, entry: dict[str, Any]
) -> None:
    scope = ("branch", entry["organization_id"]) if entry.get("organization_id") else (
        "institution", entry.get("institution_id") or "—")
    institution = entry.get("institution_id")
    if institution is None:
        institution = next(iter(await unit.projections.institutions_of_orgs([scope[1]])), None)
    await audit.record(
        unit.models.trail, who, action, *scope, at, institution_id=institution,
        period=period, exception_id=entry.get("id"), requested_by=entry.get("requested_by"),
        reason=entry.get("reason"), until=entry.get("until"),
    )  # fmt: skip
