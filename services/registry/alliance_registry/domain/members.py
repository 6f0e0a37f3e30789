"""Members and their development pipeline (入党申请人 → 入党积极分子 → 发展对象 → 预备党员 → 正式党员)."""

from __future__ import annotations

from enum import StrEnum

from alliance_shared.contracts.vocabulary import MemberStatus
from alliance_shared.errors import Invalid

PIPELINE: tuple[MemberStatus, ...] = (
    MemberStatus.APPLICANT,
    MemberStatus.ACTIVIST,
    MemberStatus.CANDIDATE,
    MemberStatus.PROBATIONARY,
    MemberStatus.FULL,
)


class CadreRole(StrEnum):
    PARTY_AFFAIRS_FULL_TIME = "party_affairs_full_time"  # 专职党务干部
    PARTY_AFFAIRS_PART_TIME = "party_affairs_part_time"  # 兼职党务干部
    DUAL_RESPONSIBILITY = "dual_responsibility"  # 一岗双责
    CROSS_APPOINTMENT = "cross_appointment"  # 交叉任职
    PIONEER_POST = "pioneer_post"  # 党员先锋岗


def check_pipeline_step(previous: MemberStatus, new: MemberStatus) -> None:
    """The pipeline only moves forward (a step may be skipped, e.g. an import of a full member);
    going back is a data error the caller must resolve another way (the member leaves)."""
    if PIPELINE.index(new) < PIPELINE.index(previous):
        raise Invalid(f"发展阶段不能倒退 / status cannot move back from {previous} to {new}", field="status")


def check_cadre_roles(roles: list[str]) -> list[str]:
    out: list[str] = []
    for role in roles:
        try:
            value = CadreRole(role).value
        except ValueError:
            raise Invalid(f"未知的干部角色 / unknown cadre role {role!r}", field="cadre_roles") from None
        if value not in out:
            out.append(value)
    if {CadreRole.PARTY_AFFAIRS_FULL_TIME.value, CadreRole.PARTY_AFFAIRS_PART_TIME.value} <= set(out):
        raise Invalid(
            "专职与兼职党务干部不能同时担任 / full- and part-time cadre are exclusive", field="cadre_roles"
        )
    return out
