"""The queues over HTTP (added to the contract): `GET /api/v1/adjustments`, `/appeals` and
`/exemptions`, beside the POST routes that act on them (api.py)."""

from __future__ import annotations

from typing import Any

from alliance_shared.http import CurrentUser, Page, PageSize
from fastapi import APIRouter

from ..domain.periods import Period
from ..usecases import queues
from .api import Ev
from .schemas import AdjustmentQueue, AppealQueue, ExemptionList

router = APIRouter(prefix="/api/v1", tags=["queues"])


def _period(text: str | None) -> str | None:
    return str(Period.parse(text)) if text else None


@router.get("/adjustments", response_model=AdjustmentQueue)
async def list_adjustments(
    who: CurrentUser, ev: Ev, status: queues.AdjustmentStatus | None = None, period: str | None = None,
    institution_id: str | None = None, page: Page = 1, page_size: PageSize = 50,
) -> dict[str, Any]:  # fmt: skip
    """待第二人审批的人工调整（默认 pending）/ manual adjustments awaiting a second approver."""
    return await queues.adjustments(ev, who, status, _period(period), institution_id, page, page_size)


@router.get("/appeals", response_model=AppealQueue)
async def list_appeals(
    who: CurrentUser, ev: Ev, status: queues.AppealStatus | None = None, period: str | None = None,
    institution_id: str | None = None, page: Page = 1, page_size: PageSize = 50,
) -> dict[str, Any]:  # fmt: skip
    """待处理的申诉（默认 open）/ appeals awaiting the secretariat's resolution."""
    return await queues.appeals(ev, who, status, _period(period), institution_id, page, page_size)


@router.get("/exemptions", response_model=ExemptionList)
async def list_exemptions(
    who: CurrentUser, ev: Ev, institution_id: str | None = None, page: Page = 1, page_size: PageSize = 50
) -> dict[str, Any]:
    """已批准的豁免 / exemptions granted."""
    return await queues.exemptions(ev, who, institution_id, page, page_size)
