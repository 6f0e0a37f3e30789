"""Maturity-fair comparison (上报成熟度公平比较): an institution's completeness and timeliness read
against what its own reporting level is expected to reach (`reporting.expected` of the ruleset),
and the overview's comparison of L1, L2 and L3 reporters level by level. Pure: rendered cards
(completeness and timeliness in percent) and a ruleset in, plain JSON out. Nothing here scores."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .rounding import rounded
from .ruleset import Ruleset

LEVELS = ("L1", "L2", "L3")


def _expected(rs: Ruleset, level: str) -> tuple[float, float] | None:
    e = rs.reporting_expected.get(level)
    return (rounded(e.completeness * 100), rounded(e.timeliness * 100)) if e is not None else None


def against_level(card: dict[str, Any], rs: Ruleset) -> dict[str, Any] | None:
    """The card's completeness and timeliness against its level's expectation: the gaps (points
    above or below it) and whether it meets both; None for a level the ruleset has no expectation for."""
    level = card.get("reporting_level") or ""
    expected = _expected(rs, level)
    if expected is None:
        return None
    completeness, timeliness = card.get("completeness"), card.get("timeliness")

    def gap(value: float | None, target: float) -> float | None:
        return None if value is None else round(value - target, 2)

    return {
        "reporting_level": level,
        "grace_days": rs.grace_days.get(level),
        "expected_completeness": expected[0],
        "expected_timeliness": expected[1],
        "completeness_gap": gap(completeness, expected[0]),
        "timeliness_gap": gap(timeliness, expected[1]),
        "meets": None
        if completeness is None or timeliness is None
        else completeness >= expected[0] and timeliness >= expected[1],
    }


def by_level(cards: Iterable[dict[str, Any]], rs: Ruleset) -> list[dict[str, Any]]:
    """Per reporting level: how many institutions, their mean completeness and timeliness, the
    level's expectation and grace days, and how many meet their own level's expectation."""
    grouped: dict[str, list[dict[str, Any]]] = {level: [] for level in LEVELS}
    for c in cards:
        grouped.setdefault(c.get("reporting_level") or "", []).append(c)
    out = []
    for level, items in grouped.items():
        expected = _expected(rs, level)
        if expected is None and not items:
            continue
        judged = [a for a in (against_level(c, rs) for c in items) if a is not None and a["meets"] is not None]
        out.append({
            "reporting_level": level,
            "institutions": len(items),
            "grace_days": rs.grace_days.get(level),
            "completeness": _mean(c.get("completeness") for c in items),
            "timeliness": _mean(c.get("timeliness") for c in items),
            "expected_completeness": expected[0] if expected else None,
            "expected_timeliness": expected[1] if expected else None,
            "meeting_expectation": sum(1 for a in judged if a["meets"]),
            "judged": len(judged),
        })  # fmt: skip
    return out


def how_compared(rs: Ruleset) -> str:
    """What the overview says about comparing L1, L2 and L3 reporters (中文 / English)."""
    days = "、".join(f"{lvl} {rs.grace_days.get(lvl)} 天" for lvl in LEVELS if lvl in rs.grace_days)
    days_en = ", ".join(f"{lvl} {rs.grace_days.get(lvl)} days" for lvl in LEVELS if lvl in rs.grace_days)
    exp = "、".join(f"{lvl} {e[0]:g}%/{e[1]:g}%" for lvl in LEVELS if (e := _expected(rs, lvl)))
    return (
        f"各机构按同一义务日历计算报送完整率与及时率；及时以各上报成熟度的宽限期为准（{days}），"
        f"并与本级期望（完整率/及时率：{exp}）比较，达标与否按本级判断，不按统一标准 / "
        f"completeness and timeliness count against the same obligation calendar; on time means within the "
        f"level's grace days ({days_en}), and each institution is judged against its own level's "
        f"expectation (completeness/timeliness), not one bar for all"
    )


def _mean(values: Iterable[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 2) if present else None
