"""Why a score changed between two computations: which indicators moved and which events
appeared or disappeared behind them (compares the stored, rendered cards)."""

from __future__ import annotations

from typing import Any


def explain(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    old = {r["indicator"]: r for r in before.get("breakdown", [])}
    new = {r["indicator"]: r for r in after.get("breakdown", [])}
    moved = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name, {}), new.get(name, {})
        ev_a, ev_b = set(a.get("evidence", [])), set(b.get("evidence", []))
        if (a.get("value"), a.get("points"), a.get("weight")) == (
            b.get("value"),
            b.get("points"),
            b.get("weight"),
        ) and ev_a == ev_b:
            continue
        moved.append(
            {
                "indicator": name,
                "before": {"value": a.get("value"), "points": a.get("points"), "weight": a.get("weight")},
                "after": {"value": b.get("value"), "points": b.get("points"), "weight": b.get("weight")},
                "events_added": sorted(ev_b - ev_a),
                "events_removed": sorted(ev_a - ev_b),
            }
        )
    branches = []
    old_b = {c["object_id"]: c for c in before.get("branches", [])}
    new_b = {c["object_id"]: c for c in after.get("branches", [])}
    for bid in sorted(set(old_b) | set(new_b)):
        sa, sb = old_b.get(bid, {}).get("score"), new_b.get(bid, {}).get("score")
        if sa != sb:
            branches.append(
                {
                    "organization_id": bid,
                    "before": sa,
                    "after": sb,
                    "indicators": explain(old_b.get(bid, {}), new_b.get(bid, {}))["indicators"],
                }
            )
    return {
        "score_before": before.get("score"),
        "score_after": after.get("score"),
        "ruleset_before": before.get("ruleset"),
        "ruleset_after": after.get("ruleset"),
        "grade_before": before.get("grade"),
        "grade_after": after.get("grade"),
        "indicators": moved,
        "branches": branches,
    }
