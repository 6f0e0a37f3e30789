"""Unlock exceptions of closed periods over HTTP (added to the contract): the secretariat grants
(`POST /api/v1/periods/{period}/unlocks`), lists and revokes them; the branch's drill-down shows
those covering it."""

from __future__ import annotations

from typing import Any

from alliance_shared.contracts.vocabulary import Role
from alliance_shared.http import CurrentUser
from fastapi import APIRouter

from ..usecases import unlocks
from ..usecases.unlocks import GrantUnlock
from .api import Ev
from .schemas import Unlock, UnlockList

router = APIRouter(prefix="/api/v1", tags=["periods"])


@router.post("/periods/{period}/unlocks", status_code=201, response_model=Unlock)
async def grant_unlock(period: str, body: GrantUnlock, who: CurrentUser, ev: Ev) -> dict[str, Any]:
    """秘书处为已关闭期间的一个党支部或机构开具解锁例外（申请人、原因、截止时间）/ grant an unlock exception."""
    return await unlocks.grant(ev, period, body, who)


@router.get("/periods/{period}/unlocks", response_model=UnlockList)
async def list_unlocks(period: str, who: CurrentUser, ev: Ev) -> dict[str, Any]:
    who.require_role(Role.SECRETARIAT, Role.REGULATOR)
    return {"items": await unlocks.of(ev, period)}


@router.delete("/periods/{period}/unlocks/{exception_id}", response_model=Unlock)
async def revoke_unlock(period: str, exception_id: str, who: CurrentUser, ev: Ev) -> dict[str, Any]:
    """撤销解锁例外 / revoke an unlock exception: the period is closed to that branch or institution again."""
    return await unlocks.revoke(ev, period, exception_id, who)
