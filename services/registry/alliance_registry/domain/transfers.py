"""The organisational-relation transfer (组织关系转接) between two organisations: requested, then
accepted or refused by the receiving side before a deadline; overdue once, if left pending."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from alliance_shared.errors import Conflict, Invalid


class TransferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"


class TransferNotPending(Conflict):
    code = "transfer_not_pending"


@dataclass(frozen=True)
class Transfer:
    id: str
    member_id: str
    from_organization_id: str
    from_institution_id: str
    to_organization_id: str
    to_institution_id: str
    requested_at: datetime
    deadline: date
    status: TransferStatus = TransferStatus.PENDING
    decided_at: datetime | None = None
    reason: str = ""
    overdue_notified: bool = False

    @classmethod
    def request(
        cls,
        *,
        transfer_id: str,
        member_id: str,
        from_organization_id: str,
        from_institution_id: str,
        to_organization_id: str,
        to_institution_id: str,
        now: datetime,
        today: date,
        deadline_days: int,
    ) -> Transfer:
        if from_organization_id == to_organization_id:
            raise Invalid(
                "不能转入当前所在组织 / the member already belongs to that organisation",
                field="to_organization_id",
            )
        return cls(
            id=transfer_id,
            member_id=member_id,
            from_organization_id=from_organization_id,
            from_institution_id=from_institution_id,
            to_organization_id=to_organization_id,
            to_institution_id=to_institution_id,
            requested_at=now,
            deadline=today + timedelta(days=deadline_days),
        )

    def _decide(self, status: TransferStatus, now: datetime, reason: str) -> Transfer:
        if self.status is not TransferStatus.PENDING:
            raise TransferNotPending(
                f"转接已{_ZH[self.status]}，不能再处理 / transfer is already {self.status}",
                field="transfer_id",
            )
        return replace(self, status=status, decided_at=now, reason=reason)

    def accept(self, now: datetime) -> Transfer:
        return self._decide(TransferStatus.ACCEPTED, now, "")

    def refuse(self, now: datetime, reason: str) -> Transfer:
        return self._decide(TransferStatus.REFUSED, now, reason)

    def days_overdue(self, today: date) -> int:
        return (today - self.deadline).days

    def is_overdue(self, today: date) -> bool:
        """Pending after its deadline day has passed."""
        return self.status is TransferStatus.PENDING and today > self.deadline

    def needs_overdue_notice(self, today: date) -> bool:
        """Overdue and not yet announced: the overdue event is emitted once per transfer."""
        return self.is_overdue(today) and not self.overdue_notified

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["deadline"] = self.deadline.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transfer:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        fields["status"] = TransferStatus(fields["status"])
        fields["deadline"] = date.fromisoformat(fields["deadline"])
        return cls(**fields)


_ZH = {TransferStatus.PENDING: "待处理", TransferStatus.ACCEPTED: "接收", TransferStatus.REFUSED: "拒绝"}
