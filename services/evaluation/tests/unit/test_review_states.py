"""What a report's review state does to scoring is data in the ruleset (`review`): by default a
returned meeting or public activity does not count until it is resubmitted; one not yet reviewed,
approved or resubmitted counts."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from alliance_evaluation.domain.facts import PublicActivity
from alliance_evaluation.domain.ruleset import RULESET_DIR, ReviewCounting, Ruleset, load_ruleset
from alliance_evaluation.domain.scoring import score_period

from .test_plausibility import Q3, RS, at, meeting, two_branches

pytestmark = pytest.mark.unit


def org_life(facts, rs=RS):  # type: ignore[no-untyped-def]
    card = next(c for c in score_period(facts, Q3, rs).branches if c.object_id == "b1")
    return card.indicator("org_life"), card


def with_meeting(review: str):  # type: ignore[no-untyped-def]
    f = two_branches()
    f.meetings.append(replace(meeting("mt-1", "b1", ("m1", "m2"), at(2026, 7, 10)), review=review))
    return f


def test_a_returned_meeting_does_not_count_until_it_is_resubmitted():
    counted = {state: org_life(with_meeting(state))[0] for state in ("pending", "approved", "returned", "resubmitted")}
    assert counted["returned"].evidence == ()
    assert dict(counted["returned"].details)["held"] == 0
    for state in ("pending", "approved", "resubmitted"):
        assert counted[state].evidence == ("mt-1",), state
        assert dict(counted[state].details)["held"] == 1
    assert counted["resubmitted"].value > counted["returned"].value


def test_a_returned_public_activity_does_not_count_either():
    f = two_branches()
    f.public_activities.append(PublicActivity("pa-1", "b1", at(2026, 7, 10).date(), ("m1", "m2"), at(2026, 7, 10)))
    before = next(c for c in score_period(f, Q3, RS).branches if c.object_id == "b1").indicator("public_activity")
    f.public_activities[0] = replace(f.public_activities[0], review="returned")
    after = next(c for c in score_period(f, Q3, RS).branches if c.object_id == "b1").indicator("public_activity")
    assert before.evidence == ("pa-1",) and after.evidence == ()


def test_the_ruleset_decides_which_review_states_count():
    raw = yaml.safe_load((RULESET_DIR / "2026.1.yaml").read_text(encoding="utf-8"))
    assert load_ruleset("2026.1").review == ReviewCounting()  # the default, where a ruleset says nothing
    assert load_ruleset("2026.2").review == ReviewCounting()  # written out in the draft
    lenient = Ruleset.from_mapping({**raw, "review": {"returned": "counted"}})
    assert org_life(with_meeting("returned"), lenient)[0].evidence == ("mt-1",)
    strict = Ruleset.from_mapping({**raw, "review": {"pending": "not_counted"}})
    assert org_life(with_meeting("pending"), strict)[0].evidence == ()
    assert org_life(with_meeting("approved"), strict)[0].evidence == ("mt-1",)
    with pytest.raises(ValueError, match=r"^评价细则 review\.returned 取值无效"):
        Ruleset.from_mapping({**raw, "review": {"returned": "half"}})
    with pytest.raises(ValueError, match=r"review\.rejected"):
        Ruleset.from_mapping({**raw, "review": {"rejected": "counted"}})
