"""Whether a report a superior filed for the branch (上级代办) counts is the ruleset's `review.filed_on_behalf`."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from alliance_evaluation.domain.ruleset import RULESET_DIR, Ruleset

from .test_plausibility import RS, at, meeting, two_branches
from .test_review_states import org_life

pytestmark = pytest.mark.unit


def on_behalf():  # type: ignore[no-untyped-def]
    f = two_branches()
    f.meetings.append(replace(meeting("mt-1", "b1", ("m1", "m2"), at(2026, 7, 10)), on_behalf=True))
    return f


def test_a_report_filed_on_the_branchs_behalf_counts_unless_the_ruleset_says_not():
    assert org_life(on_behalf())[0].evidence == ("mt-1",)  # counted by default
    raw = yaml.safe_load((RULESET_DIR / "2026.1.yaml").read_text(encoding="utf-8"))
    strict = Ruleset.from_mapping({**raw, "review": {"filed_on_behalf": "not_counted"}})
    assert org_life(on_behalf(), strict)[0].evidence == ()
    assert RS.review.filed_on_behalf == "counted"
    with pytest.raises(ValueError, match=r"review\.filed_on_behalf"):
        Ruleset.from_mapping({**raw, "review": {"filed_on_behalf": "half"}})
