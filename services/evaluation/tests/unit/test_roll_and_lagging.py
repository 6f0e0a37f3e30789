"""Member rolls from registry changes, the lagging decision, and the reasons a score changed."""

from __future__ import annotations

from datetime import date

import pytest
from alliance_evaluation.domain.changes import explain
from alliance_evaluation.domain.lagging import BranchPulse, LaggingPolicy, assess, change
from alliance_evaluation.domain.roll import RollChange, stints_of

pytestmark = pytest.mark.unit


def test_a_transfer_ends_one_stint_and_starts_another_whatever_the_arrival_order():
    changes = [
        RollChange("e3", date(2026, 8, 1), "transfer", "b2", "full"),
        RollChange("e1", date(2026, 1, 1), "registered", "b1", "probationary"),
        RollChange("e2", date(2026, 5, 1), "status", "b1", "full"),
        RollChange("e4", date(2026, 9, 1), "left"),
    ]
    stints = stints_of("m1", changes)
    assert [(s.organization_id, s.start, s.end, s.party_member) for s in stints] == [
        ("b1", date(2026, 1, 1), date(2026, 5, 1), True),
        ("b1", date(2026, 5, 1), date(2026, 8, 1), True),
        ("b2", date(2026, 8, 1), date(2026, 9, 1), True),
    ]


def test_a_branch_without_meetings_for_sixty_days_is_lagging_and_leaves_when_it_meets():
    policy = LaggingPolicy(days_without_meeting=60)
    quiet = BranchPulse("b1", "i1", date(2020, 1, 1), date(2026, 5, 1), 100.0)
    assert assess(quiet, date(2026, 7, 1), policy).status == "lagging"
    met = BranchPulse("b1", "i1", date(2020, 1, 1), date(2026, 7, 1), 100.0)
    assert assess(met, date(2026, 7, 2), policy).status is None
    assert change("lagging", None) == "caught_up"
    assert change(None, "lagging") == "fell_behind"
    assert change("lagging", "lagging") is None


def test_a_branch_three_quarters_into_the_quarter_with_weak_organisational_life_is_at_risk():
    pulse = BranchPulse("b1", "i1", date(2020, 1, 1), date(2026, 9, 1), 40.0)
    assert assess(pulse, date(2026, 9, 10), LaggingPolicy()).status == "at_risk"
    assert assess(pulse, date(2026, 8, 1), LaggingPolicy()).status is None


def test_changes_name_the_indicators_and_events_that_moved():
    before = {
        "score": 70.0,
        "breakdown": [
            {"indicator": "org_life", "value": 50.0, "points": 17.5, "weight": 35.0, "evidence": ["e1"]}
        ],
    }
    after = {
        "score": 75.0,
        "breakdown": [
            {
                "indicator": "org_life",
                "value": 64.29,
                "points": 22.5,
                "weight": 35.0,
                "evidence": ["e1", "e2"],
            }
        ],
    }
    diff = explain(before, after)
    assert diff["indicators"][0]["indicator"] == "org_life"
    assert diff["indicators"][0]["events_added"] == ["e2"]
