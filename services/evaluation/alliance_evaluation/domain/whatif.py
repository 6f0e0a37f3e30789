"""What a draft ruleset would change (the what-if): the same period's facts scored under the ruleset
in force and under the draft, compared card by card — score, grade and rank before and after, and
the indicators whose points moved, the largest move first. Pure: two `PeriodScores` in, rows out."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .parts import BRANCH_ADJUSTMENT, OWN
from .results import ScoreCard
from .rounding import rounded
from .ruleset import BRANCH_INDICATORS
from .scoring import PeriodScores

NO_DATA = "no_data"  # 待评: never ranked


@dataclass(frozen=True)
class IndicatorMove:
    indicator: str
    scope: str  # "branch" (a branch's own line), "branches" (aggregated over them) or "institution"
    before: float  # points
    after: float

    @property
    def delta(self) -> float:
        return round(self.after - self.before, 2)

    def as_dict(self) -> dict[str, Any]:
        return {"indicator": self.indicator, "scope": self.scope, "before": self.before, "after": self.after,
                "delta": self.delta}  # fmt: skip


@dataclass(frozen=True)
class Move:
    """One institution or branch: before (the ruleset in force) and after (the draft)."""

    level: str  # institution | branch
    id: str
    institution_id: str
    ownership: str
    reporting_level: str
    score_before: float
    score_after: float
    grade_before: str
    grade_after: str
    rank_before: int | None  # None: 待评, not ranked
    rank_after: int | None
    indicators: tuple[IndicatorMove, ...]

    @property
    def changed(self) -> bool:
        return (
            self.score_before != self.score_after
            or self.grade_before != self.grade_after
            or self.rank_before != self.rank_after
        )

    @property
    def rank_change(self) -> int | None:
        """Places gained (positive: moved up)."""
        if self.rank_before is None or self.rank_after is None:
            return None
        return self.rank_before - self.rank_after

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level, "id": self.id, "institution_id": self.institution_id,
            "ownership": self.ownership, "reporting_level": self.reporting_level,
            "score_before": self.score_before, "score_after": self.score_after,
            "score_delta": round(self.score_after - self.score_before, 2),
            "grade_before": self.grade_before, "grade_after": self.grade_after,
            "grade_changed": self.grade_before != self.grade_after,
            "rank_before": self.rank_before, "rank_after": self.rank_after, "rank_change": self.rank_change,
            "indicators": [m.as_dict() for m in self.indicators],
            "changed": self.changed,
        }  # fmt: skip


class _Ranks:
    """Competition ranks by the shown (rounded) score among the ranked cards: 1 + how many score higher."""

    def __init__(self, cards: Iterable[ScoreCard]) -> None:
        self._scores = sorted(rounded(c.score) for c in cards if c.grade != NO_DATA)

    def of(self, card: ScoreCard) -> int | None:
        if card.grade == NO_DATA:
            return None
        return len(self._scores) - bisect.bisect_right(self._scores, rounded(card.score)) + 1


class _Points:
    """Each card's points per indicator, as shown (rounded). An institution's are its parts
    (`parts.institution_indicators`: its branches' lines weighted by member-days, then its own),
    summed here in floats from the branches' exact points: the parts' exact sums took most of a
    what-if's comparison (about 80 Fraction operations per branch line), and a diff only shows
    them rounded. A branch card's points are worked out once, however many institutions it covers."""

    def __init__(self) -> None:
        self._exact: dict[int, dict[str, Fraction]] = {}

    def exact(self, card: ScoreCard) -> dict[str, Fraction]:
        found = self._exact.get(id(card))
        if found is None:
            found = self._exact[id(card)] = {r.indicator: r.points for r in card.breakdown}
        return found

    def of(self, card: ScoreCard) -> dict[tuple[str, str], float]:
        if card.object_type != "institution":
            return {(name, "branch"): rounded(points) for name, points in self.exact(card).items()}
        branches = card.indicator("branches")
        share = float(branches.weight) if branches is not None else 0.0
        cards = card.branches
        total = sum(c.member_days for c in cards)
        out: dict[tuple[str, str], float] = {}
        whole = 0.0
        parts = dict.fromkeys(BRANCH_INDICATORS, 0.0)
        for c in cards:
            w = c.member_days / total if total else 1 / len(cards)
            whole += w * float(c.score)
            for name, points in self.exact(c).items():
                if name in parts and points:
                    parts[name] += w * float(points)
        for name, summed in parts.items():
            out[(name, "branches")] = round(share * summed, 2)
        rest = share * whole - share * sum(parts.values())
        if cards and abs(rest) >= 0.005:
            out[(BRANCH_ADJUSTMENT, "branches")] = round(rest, 2)
        for r in card.breakdown:
            if r.indicator in OWN:
                out[(r.indicator, "institution")] = rounded(r.points)
        return out


def _move(level: str, before: ScoreCard, after: ScoreCard, ranks: tuple[_Ranks, _Ranks], points: _Points) -> Move:
    b, a = points.of(before), points.of(after)
    moves = [
        IndicatorMove(name, scope, b.get((name, scope), 0.0), a.get((name, scope), 0.0))
        for name, scope in dict.fromkeys([*b, *a])
        if b.get((name, scope), 0.0) != a.get((name, scope), 0.0)
    ]
    moves.sort(key=lambda m: (-abs(m.delta), m.indicator, m.scope))
    return Move(
        level, before.object_id, before.institution_id, after.ownership, after.reporting_level,
        rounded(before.score), rounded(after.score), before.grade, after.grade,
        ranks[0].of(before), ranks[1].of(after), tuple(moves),
    )  # fmt: skip


def compare(before: PeriodScores, after: PeriodScores) -> list[Move]:
    """Every institution and branch scored in both, institutions first, each level by id."""
    out: list[Move] = []
    points = _Points()
    for level, old, new in (
        ("institution", before.institutions, after.institutions),
        ("branch", before.branches, after.branches),
    ):
        ranks = (_Ranks(old), _Ranks(new))
        by_id = {c.object_id: c for c in new}
        out += [_move(level, c, by_id[c.object_id], ranks, points) for c in sorted(old, key=lambda c: c.object_id)
                if c.object_id in by_id]  # fmt: skip
    return out


def summary(moves: Iterable[Move]) -> dict[str, Any]:
    """Counts per level: changed, grade changes (and from → to), rank moves, and per indicator how
    many it moved (the "which indicator moved whom" at a glance)."""
    out: dict[str, Any] = {}
    for m in moves:
        s = out.setdefault(m.level, {"objects": 0, "changed": 0, "grade_changes": 0, "rank_changes": 0,
                                     "up": 0, "down": 0, "grade_flows": {}, "by_indicator": {},
                                     "max_up": 0, "max_down": 0})  # fmt: skip
        s["objects"] += 1
        s["changed"] += m.changed
        if m.grade_before != m.grade_after:
            s["grade_changes"] += 1
            flow = f"{m.grade_before}→{m.grade_after}"
            s["grade_flows"][flow] = s["grade_flows"].get(flow, 0) + 1
        rc = m.rank_change
        if rc:
            s["rank_changes"] += 1
            s["up" if rc > 0 else "down"] += 1
            s["max_up"], s["max_down"] = max(s["max_up"], rc), max(s["max_down"], -rc)
        for i in m.indicators:
            key = i.indicator if i.scope != "institution" else f"{i.indicator}@institution"
            s["by_indicator"][key] = s["by_indicator"].get(key, 0) + 1
    return out
