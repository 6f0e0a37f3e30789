"""What a branch owes of 三会一课 in a quarter and what it has reported, for the L1 form.

The requirements are the `meetings` of the alliance's ruleset (evaluation's rulesets/*.yaml, where
they score; a test holds this table to the newest ruleset): monthly or quarterly per meeting kind,
党小组会 only for branches that have party groups, and a window owed only when the branch was open
for at least half of it. Evaluation's scores stay the authority; this tells a secretary what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from alliance_shared.contracts.vocabulary import MEETING_KIND_ZH, MeetingKind


@dataclass(frozen=True)
class MeetingRequirement:
    kind: MeetingKind
    monthly: bool  # else once a quarter
    only_with_party_groups: bool = False


# in the order of 三会一课: 支部党员大会, 支部委员会, 党小组会, 党课, then 主题党日
REQUIREMENTS: tuple[MeetingRequirement, ...] = (
    MeetingRequirement(MeetingKind.BRANCH_GENERAL_MEETING, monthly=False),
    MeetingRequirement(MeetingKind.BRANCH_COMMITTEE_MEETING, monthly=True),
    MeetingRequirement(MeetingKind.PARTY_GROUP_MEETING, monthly=True, only_with_party_groups=True),
    MeetingRequirement(MeetingKind.PARTY_LESSON, monthly=False),
    MeetingRequirement(MeetingKind.THEME_PARTY_DAY, monthly=True),
)


class Standing(StrEnum):
    REPORTED = "reported"  # 已报
    DUE = "due"  # 待报: its window has not ended
    MISSED = "missed"  # 未报: its window ended with no report

    @property
    def zh(self) -> str:
        return {"reported": "已报", "due": "待报", "missed": "未报"}[self.value]


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # inclusive
    label: str  # 10月 / 第四季度

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Owed:
    kind: MeetingKind
    window: Window
    standing: Standing

    @property
    def kind_zh(self) -> str:
        return MEETING_KIND_ZH[self.kind]


QUARTER_ZH = ("第一季度", "第二季度", "第三季度", "第四季度")


def quarter_window(day: date) -> Window:
    q = (day.month - 1) // 3
    start = date(day.year, 3 * q + 1, 1)
    return Window(start, _month_end(date(day.year, 3 * q + 3, 1)), f"{day.year}年{QUARTER_ZH[q]}")


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def months_of(quarter: Window) -> list[Window]:
    out = []
    for m in range(quarter.start.month, quarter.start.month + 3):
        first = date(quarter.start.year, m, 1)
        out.append(Window(first, _month_end(first), f"{m}月"))
    return out


def owed_this_quarter(
    today: date,
    *,
    opened: date,
    closed: date | None,
    has_party_groups: bool,
    held: list[tuple[MeetingKind, date]],
) -> list[Owed]:
    """Each meeting the branch owes in the quarter of `today`, window by window, and its standing."""
    quarter = quarter_window(today)
    out = []
    for req in REQUIREMENTS:
        if req.only_with_party_groups and not has_party_groups:
            continue
        for window in months_of(quarter) if req.monthly else [quarter]:
            last_open = min(window.end, (closed - timedelta(days=1)) if closed else window.end)
            open_days = (last_open - max(window.start, opened)).days + 1
            if open_days * 2 < window.days:  # open for less than half of it: not owed
                continue
            if any(kind is req.kind and window.start <= day <= window.end for kind, day in held):
                standing = Standing.REPORTED
            else:
                standing = Standing.MISSED if window.end < today else Standing.DUE
            out.append(Owed(req.kind, window, standing))
    return out
