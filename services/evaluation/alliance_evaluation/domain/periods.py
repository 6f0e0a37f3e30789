"""Evaluation periods (calendar quarters, ``2026-Q3``) and the windows inside them, in Asia/Shanghai days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from alliance_shared.clock import SHANGHAI

from .errors import InvalidPeriod

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True, order=True, slots=True)
class Window:
    """A closed range of days [start, end]."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlap_days(self, start: date, end: date | None) -> int:
        """Days of this window within [start, end) (end exclusive, None = still open)."""
        lo = max(self.start, start)
        hi = self.end if end is None else min(self.end, end - timedelta(days=1))
        return max(0, (hi - lo).days + 1)

    @property
    def label(self) -> str:
        return (
            f"{self.start:%Y-%m}"
            if self.start.day == 1 and self.end.month == self.start.month
            else f"{self.start.isoformat()}..{self.end.isoformat()}"
        )


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """A calendar quarter."""

    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _QUARTER.match(text or "")
        if not match:
            raise InvalidPeriod(text)
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of_day(cls, day: date) -> Period:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def of_instant(cls, at: datetime) -> Period:
        return cls.of_day(local_day(at))

    def __str__(self) -> str:
        return f"{self.year}-Q{self.quarter}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> date:
        return _end_of(self.year, self.quarter)

    @property
    def window(self) -> Window:
        return Window(self.start, self.end)

    def months(self) -> list[Window]:
        return list(_months_of(self.year, self.quarter))

    def next(self) -> Period:
        return Period(self.year + (self.quarter == 4), self.quarter % 4 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.quarter == 1), (self.quarter - 2) % 4 + 1)

    def share_elapsed(self, today: date) -> float:
        """How much of the quarter has gone by on `today` (0 before it, 1 after it)."""
        if today < self.start:
            return 0.0
        if today > self.end:
            return 1.0
        return ((today - self.start).days + 1) / self.window.days


# a quarter's last day and months, asked for per branch and obligation: computed once per quarter
@lru_cache(maxsize=256)
def _end_of(year: int, quarter: int) -> date:
    nxt = Period(year, quarter).next()
    return date(nxt.year, 3 * nxt.quarter - 2, 1) - timedelta(days=1)


@lru_cache(maxsize=256)
def _months_of(year: int, quarter: int) -> tuple[Window, ...]:
    out = []
    for m in range(3 * quarter - 2, 3 * quarter + 1):
        first = date(year, m, 1)
        nxt = date(year + (m == 12), m % 12 + 1, 1)
        out.append(Window(first, nxt - timedelta(days=1)))
    return tuple(out)


def local_day(at: datetime) -> date:
    """The Asia/Shanghai calendar day of an instant."""
    return at.astimezone(SHANGHAI).date()


def month_window(month: str) -> Window:
    year, m = (int(p) for p in month.split("-"))
    nxt = date(year + (m == 12), m % 12 + 1, 1)
    return Window(date(year, m, 1), nxt - timedelta(days=1))


def periods_between(first: Period, last: Period, limit: int = 8) -> list[Period]:
    out: list[Period] = []
    p = first
    while p <= last and len(out) < limit:
        out.append(p)
        p = p.next()
    return out
