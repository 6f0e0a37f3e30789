"""The period lock (DHIS2's data-input periods and lock exceptions): a report into a period the
secretariat closed is refused, unless an unlock exception for its branch or its institution is in
force when it arrives; a correction of an approved report is refused too. Each refusal says which,
Chinese first, at the field that decides it. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from alliance_shared.clock import SHANGHAI
from alliance_shared.contracts.activity import (
    RejectionReason,
)
from alliance_shared.contracts.base import EventPayload

from .occurrence import time_field
from .reasons import reason


@dataclass(frozen=True)
class UnlockException:
    id: str
    period: str
    organization_id: str | None
    institution_id: str | None
    until: datetime
    revoked_at: datetime | None = None

    def covers(self, organization_id: str | None, institution_id: str | None) -> bool:
        if self.organization_id is not None:
            return self.organization_id == organization_id
        return self.institution_id is not None and self.institution_id == institution_id


@dataclass(frozen=True)
class PeriodLocks:
    """The closed periods (period → closed at) and their unlock exceptions."""

    closed: dict[str, datetime] = field(default_factory=dict)
    exceptions: tuple[UnlockException, ...] = ()

    def refusal(
        self, period: str, organization_id: str | None, institution_id: str | None, now: datetime, at_field: str
    ) -> RejectionReason | None:
        """Why a report of `period` arriving `now` is refused (None: it is let in)."""
        if period not in self.closed:
            return None
        mine = [
            e for e in self.exceptions if e.period == period and e.covers(organization_id, institution_id)
        ]
        if any(e.revoked_at is None and now < e.until for e in mine):
            return None
        expired = [e for e in mine if e.revoked_at is None]
        if expired:
            until = max(e.until for e in expired).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            return reason(
                at_field,
                f"{period} 考核期已关闭，本单位的解锁例外已于 {until}（北京时间）到期，不能再补报；"
                "如需补报请重新向秘书处申请 / "
                f"period {period} is closed and the unlock exception expired at {until} (Beijing time)",
            )
        return reason(
            at_field,
            f"{period} 考核期已关闭，不再接收上报；如需补报请向秘书处申请解锁例外 / "
            f"period {period} is closed: ask the secretariat for an unlock exception",
        )


ALREADY_APPROVED = (
    "被更正的上报已审核通过，不能更正；如确需修改请联系本机构党务管理员 / "
    "the report this corrects was already approved and cannot be corrected"
)


def approved_refusal() -> RejectionReason:
    return reason("supersedes", ALREADY_APPROVED)


def data_time_field(p: EventPayload) -> str:
    """Where in the event a period refusal shows: the field that says when the activity happened."""
    return f"data.{time_field(p)}"
