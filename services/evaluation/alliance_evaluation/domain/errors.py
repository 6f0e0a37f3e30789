"""The evaluation service's errors, as types mapped to HTTP answers by the shared error handlers."""

from __future__ import annotations

from alliance_shared.errors import Conflict, Forbidden, Invalid, NotFound


class InvalidPeriod(Invalid):
    def __init__(self, text: str) -> None:
        super().__init__(
            f"期间格式应为 2026-Q3 / period must look like 2026-Q3, got {text!r}", field="period"
        )


class UnknownRuleset(NotFound):
    def __init__(self, version: str) -> None:
        super().__init__(f"评价细则版本不存在 / unknown ruleset version {version!r}", field="ruleset")


class UnknownInstitution(NotFound):
    def __init__(self, institution_id: str) -> None:
        super().__init__(
            f"机构不存在或尚无评分 / unknown institution or not scored: {institution_id}",
            field="institution_id",
        )


class UnknownOrganization(NotFound):
    def __init__(self, organization_id: str) -> None:
        super().__init__(
            f"党组织不存在或尚无评分 / unknown organisation or not scored: {organization_id}",
            field="organization_id",
        )


class UnknownEvent(NotFound):
    def __init__(self, event_id: str) -> None:
        super().__init__(f"证据事件不存在 / unknown event {event_id!r}", field="event_id")


class UnknownComputation(NotFound):
    def __init__(self, computation_id: str) -> None:
        super().__init__(f"评分计算记录不存在 / unknown computation {computation_id!r}", field="compare")


class PeriodClosed(Conflict):
    def __init__(self, period: str) -> None:
        super().__init__(
            f"该期间已关闭，评分已冻结 / period {period} is closed and frozen",
            field="period",
            code="period_closed",
        )


class PeriodNotOver(Invalid):
    def __init__(self, period: str) -> None:
        super().__init__(f"期间尚未结束，不能关闭 / period {period} has not ended yet", field="period")


class NotAssigned(Forbidden):
    def __init__(self) -> None:
        super().__init__("该评价对象未分配给您 / this object is not assigned to you", field="object_id")


class SecondPersonRequired(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "调整须由另一人审批 / an adjustment must be approved by a second person", field="approved_by"
        )


class AlreadyDecided(Conflict):
    def __init__(self, what: str) -> None:
        super().__init__(f"已处理，不能重复操作 / {what} was already decided", field="status")


class UnknownCase(NotFound):
    def __init__(self, what: str, case_id: str) -> None:
        super().__init__(f"记录不存在 / unknown {what} {case_id!r}", field="id")

