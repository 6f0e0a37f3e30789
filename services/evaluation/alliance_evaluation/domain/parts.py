"""An institution's score shown in its parts (机构指标): organisational life, learning, dues, public
activity, political evaluation and reporting discipline aggregated over its branches, weighted by
member-days as the ruleset weighs the branches' scores, then its own political evaluation,
compliance and coverage. Only a view of the score: the parts' points add up to the institution's
points exactly (a branch's manual adjustment is a part of its own), and nothing here changes the
score.

Evidence: the events' ids up to `INSTITUTION_EVIDENCE` per line, the count of all of them, and per
branch its value, points and count (the link to the branch lines, where there are many)."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .rounding import rounded
from .ruleset import BRANCH_INDICATORS

if TYPE_CHECKING:  # results renders an institution card with these parts
    from .results import IndicatorResult, ScoreCard

INSTITUTION_EVIDENCE = 50
OWN = ("political", "compliance", "coverage", "adjustment")
BRANCH_ADJUSTMENT = "branch_adjustment"


def institution_indicators(card: ScoreCard) -> list[dict[str, Any]]:
    """The institution card's parts, in the order the secretariat reads them."""
    branches = card.indicator("branches")
    share = branches.weight if branches is not None else Fraction(0)
    cards = sorted(card.branches, key=lambda c: c.object_id)
    total_days = sum(c.member_days for c in cards)
    weights = {
        c.object_id: (Fraction(c.member_days, total_days) if total_days else Fraction(1, len(cards))) for c in cards
    }
    lines = [_aggregated(name, cards, weights, share) for name in BRANCH_INDICATORS]
    rest = _branch_adjustments(cards, weights, share, lines)
    if rest is not None:
        lines.append(rest)
    lines += [_own(r) for r in card.breakdown if r.indicator in OWN]
    return lines


def _aggregated(
    name: str, cards: list[ScoreCard], weights: dict[str, Fraction], share: Fraction
) -> dict[str, Any]:
    found = [(c, c.indicator(name)) for c in cards]
    applicable = [(c, r) for c, r in found if r is not None and r.value is not None]
    mass = sum((weights[c.object_id] for c, _ in applicable), Fraction(0))
    value = (
        sum((weights[c.object_id] * (r.value or 0) for c, r in applicable), Fraction(0)) / mass if mass else None
    )
    points = share * sum((weights[c.object_id] * r.points for c, r in applicable), Fraction(0))
    weight = share * sum((weights[c.object_id] * r.weight for c, r in applicable), Fraction(0))
    evidence = sorted({e for _, r in found if r is not None for e in r.evidence})
    requirement = next((r.requirement for _, r in found if r is not None and r.requirement), "")
    return {
        "indicator": name,
        "scope": "branches",
        "value": None if value is None else rounded(value * 100),
        "requirement": requirement,
        "weight": rounded(weight * 100),
        "points": rounded(points),
        "evidence": evidence[:INSTITUTION_EVIDENCE],
        "evidence_count": len(evidence),
        "branches": [
            {
                "organization_id": c.object_id,
                "member_days": c.member_days,
                "value": None if r is None or r.value is None else rounded(r.value * 100),
                "points": 0.0 if r is None else rounded(r.points),
                "evidence_count": 0 if r is None else len(r.evidence),
            }
            for c, r in found
        ],
        "note": "" if applicable else "各支部均不适用 / applies to none of the branches",
        "_points": points,
    }


def _branch_adjustments(
    cards: list[ScoreCard], weights: dict[str, Fraction], share: Fraction, lines: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """What the branches' scores hold beyond their indicators: approved adjustments (and the
    clamp to 0..100), so the parts add up to the institution's points."""
    whole = share * sum((weights[c.object_id] * c.score for c in cards), Fraction(0))
    rest = whole - sum((line.pop("_points") for line in lines), Fraction(0))
    if not rest:
        return None
    return {
        "indicator": BRANCH_ADJUSTMENT,
        "scope": "branches",
        "value": None,
        "requirement": "支部经审批的人工调整 / the branches' approved adjustments",
        "weight": 0.0,
        "points": rounded(rest),
        "evidence": sorted({e for c in cards for r in c.breakdown if r.indicator == "adjustment" for e in r.evidence}),
        "evidence_count": sum(len(r.evidence) for c in cards for r in c.breakdown if r.indicator == "adjustment"),
        "branches": [],
        "note": "",
    }


def _own(r: IndicatorResult) -> dict[str, Any]:
    d = r.as_dict()
    return {
        "indicator": r.indicator,
        "scope": "institution",
        "value": d["value"],
        "requirement": r.requirement,
        "weight": d["weight"],
        "points": d["points"] if r.indicator != "adjustment" else dict(r.details).get("points", 0.0),
        "evidence": d["evidence"][:INSTITUTION_EVIDENCE],
        "evidence_count": d["evidence_count"],
        "branches": [],
        "note": r.note,
    }
