"""What scoring produces: score cards with their breakdown, exact until the very end."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import cached_property
from typing import Any

from .parts import institution_indicators
from .rounding import rounded

EVIDENCE_LIMIT = 500  # ids kept per indicator; the count says how many there were
# hashlib lets go of the GIL to hash 2,048 bytes or more, and cards are hashed in the rescore's
# scoring thread: each time it let go, taking the GIL back waited for the event loop's turn to end
# (up to the 5 ms switch interval). Fed in smaller pieces it never lets go; the digest is the same.
_HASH_PIECE = 2_047


@dataclass(frozen=True)
class IndicatorResult:
    indicator: str
    value: Fraction | None  # 0..1; None when the indicator does not apply to this object
    requirement: str
    base_weight: Fraction
    weight: Fraction = Fraction(0)  # after redistribution over the applicable indicators
    evidence: tuple[str, ...] = ()
    details: tuple[tuple[str, Any], ...] = ()
    note: str = ""

    @property
    def points(self) -> Fraction:
        return Fraction(0) if self.value is None else self.value * 100 * self.weight

    def as_dict(self) -> dict[str, Any]:
        return dict(self._rendered)

    @cached_property
    def _rendered(self) -> dict[str, Any]:  # rendered once: a rescore renders each card several times
        return {
            "indicator": self.indicator,
            "value": None if self.value is None else rounded(self.value * 100),
            "requirement": self.requirement,
            "weight": rounded(self.weight * 100),
            "base_weight": rounded(self.base_weight * 100),
            "points": rounded(self.points),
            "evidence": list(self.evidence[:EVIDENCE_LIMIT]),
            "evidence_count": len(self.evidence),
            "details": {k: v for k, v in self.details},
            "note": self.note,
        }


@dataclass(frozen=True)
class ScoreCard:
    object_type: str  # "branch" | "institution"
    object_id: str
    institution_id: str
    period: str
    ruleset: str
    ownership: str
    reporting_level: str
    score: Fraction
    grade: str
    vetoed: bool
    breakdown: tuple[IndicatorResult, ...]
    member_days: int = 0
    members: int = 0  # on the roll at the period's end (an institution: summed over the branches covering it)
    pocket_members: int = 0  # of them, members whose relations are not inside (口袋党员)
    completeness: Fraction | None = None
    timeliness: Fraction | None = None
    missing: tuple[str, ...] = ()
    branches: tuple[ScoreCard, ...] = field(default=())
    pending: tuple[str, ...] = ()  # kinds owed but not yet due on the day judged, not yet reported
    org_life_if_unmet: Fraction | None = None  # organisational life if nothing pending is reported
    as_of: date | None = None  # the day judged on (the period's last day once it has ended)
    provisional: bool = False  # the period had not ended on that day: judged on what was due so far

    @property
    def standing(self) -> str:
        return standing(self.as_of, self.provisional)

    def indicator(self, name: str) -> IndicatorResult | None:
        return next((r for r in self.breakdown if r.indicator == name), None)

    def as_dict(self) -> dict[str, Any]:
        """The stored and served form: plain JSON, numbers rounded once, here."""
        return dict(self._rendered)

    @cached_property
    def _rendered(self) -> dict[str, Any]:  # rendered once: a rescore renders each card several times
        out = self._card()
        if self.object_type == "institution":
            out["indicators"] = institution_indicators(self)
        return out

    def _card(self) -> dict[str, Any]:
        return {
            "object_type": self.object_type,
            "object_id": self.object_id,
            "institution_id": self.institution_id,
            "period": self.period,
            "ruleset": self.ruleset,
            "ownership": self.ownership,
            "reporting_level": self.reporting_level,
            "score": rounded(self.score),
            "grade": self.grade,
            "vetoed": self.vetoed,
            "breakdown": [r.as_dict() for r in self.breakdown],
            "member_days": self.member_days,
            "members": self.members,
            "pocket_members": self.pocket_members,
            "completeness": None if self.completeness is None else rounded(self.completeness * 100),
            "timeliness": None if self.timeliness is None else rounded(self.timeliness * 100),
            "missing": list(self.missing),
            "pending": list(self.pending),
            "org_life_if_unmet": None if self.org_life_if_unmet is None else rounded(self.org_life_if_unmet * 100),
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "provisional": self.provisional,
            "standing": self.standing,
        }

    def digest(self) -> str:
        """A fingerprint of the result: equal digests mean bit-for-bit equal scores and evidence."""
        return self._digest

    @cached_property
    def _digest(self) -> str:
        body = self.as_dict() | {"branches": [b.digest() for b in self.branches]}
        text = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
        found = hashlib.sha256()
        for start in range(0, len(text), _HASH_PIECE):
            found.update(text[start : start + _HASH_PIECE])
        return found.hexdigest()


def standing(as_of: date | None, provisional: bool) -> str:
    """How final a score is, in the words the dashboard shows ("截至 12月1日 · 进行中")."""
    if provisional and as_of is not None:
        return f"截至 {as_of.month}月{as_of.day}日 · 进行中"
    return "季度已结束 · 最终"


def redistribute(results: list[IndicatorResult], note: str) -> tuple[IndicatorResult, ...]:
    """Normalise the weights over the indicators that apply; those that do not get weight 0
    and a note saying their weight went to the others."""
    total = sum((r.base_weight for r in results if r.value is not None), Fraction(0))
    out = []
    for r in results:
        if r.value is None:
            out.append(
                IndicatorResult(
                    r.indicator,
                    None,
                    r.requirement,
                    r.base_weight,
                    Fraction(0),
                    r.evidence,
                    r.details,
                    (r.note + " " if r.note else "") + note if r.base_weight else r.note,
                )
            )
        else:
            weight = r.base_weight / total if total else Fraction(0)
            out.append(
                IndicatorResult(
                    r.indicator, r.value, r.requirement, r.base_weight, weight, r.evidence, r.details, r.note
                )
            )
    return tuple(out)
