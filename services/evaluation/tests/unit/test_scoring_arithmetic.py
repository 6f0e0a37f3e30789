"""Scoring's sums in integers give exactly the Fractions the plain Fraction sums give, over many
random inputs and over whole random quarters (every card's digest the same)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction as F
from typing import Any

import pytest
from alliance_evaluation.domain import scoring
from alliance_evaluation.domain.facts import (
    Branch,
    Classification,
    DuesPayment,
    Institution,
    Learning,
    Meeting,
    PeriodFacts,
    Rating,
    Stint,
)
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.domain.results import IndicatorResult, ScoreCard
from alliance_evaluation.domain.ruleset import load_ruleset

pytestmark = pytest.mark.unit
Q3 = Period.parse("2026-Q3")
RS = load_ruleset("2026.1")
KINDS = ("theme_party_day", "branch_committee_meeting", "party_lesson", "party_group_meeting")


def a_fraction(rnd: random.Random, zero_share: float = 0.1) -> F:
    if rnd.random() < zero_share:
        return F(0)
    return F(rnd.randint(0, 10_000), rnd.randint(1, 10_000))


def a_result(rnd: random.Random) -> IndicatorResult:
    value = None if rnd.random() < 0.2 else min(F(1), a_fraction(rnd))
    return IndicatorResult("x", value, "", F(1), a_fraction(rnd))


def test_the_points_of_a_card_sum_to_the_same_fraction_as_summing_each_indicators_points():
    rnd = random.Random(14)
    for _ in range(20_000):
        results = tuple(a_result(rnd) for _ in range(rnd.randint(0, 8)))
        total = scoring._points(results)
        expected = sum((r.points for r in results), F(0))
        assert type(total) is F and total == expected
        assert (total.numerator, total.denominator) == (expected.numerator, expected.denominator)


def reference_branches_value(cards: list[ScoreCard]) -> F:
    total_days = sum(c.member_days for c in cards)
    if total_days:
        return sum((c.score * c.member_days for c in cards), F(0)) / total_days / 100
    return sum((c.score for c in cards), F(0)) / len(cards) / 100


def a_card(rnd: random.Random, n: int) -> ScoreCard:
    score = min(F(100), a_fraction(rnd) * 100)
    days = 0 if rnd.random() < 0.3 else rnd.randint(1, 2_000)
    return ScoreCard("branch", f"b{n}", "i", "2026-Q3", "r", "private", "L1", score, "", False, (), member_days=days)


def test_the_branches_component_is_the_same_member_day_weighted_mean_as_the_fraction_sum():
    rnd = random.Random(15)
    for _ in range(5_000):
        cards = [a_card(rnd, n) for n in range(rnd.randint(1, 25))]
        if rnd.random() < 0.2:
            cards = [replace(c, member_days=0) for c in cards]  # no member-days at all
        value = scoring._branches_component(cards).value
        assert value == reference_branches_value(cards)


def random_quarter(rnd: random.Random, institutions: int) -> PeriodFacts:
    f = PeriodFacts()
    ownerships = ("state_owned", "private", "emerging")
    for i in range(institutions):
        cls = Classification(rnd.choice(ownerships), "established_complete", rnd.choice(("L1", "L2", "L3")))
        f.institutions[f"i{i}"] = Institution(f"i{i}", f"机构{i}", ((date(2020, 1, 1), cls),))
        for b in range(rnd.randint(0, 6)):
            bid = f"b{i}-{b}"
            covers = (f"i{i}",) + ((f"i{i + 1}",) if b == 5 and i + 1 < institutions else ())
            opened = date(2026, rnd.randint(1, 9), rnd.randint(1, 28)) if rnd.random() < 0.2 else date(2019, 1, 1)
            f.branches[bid] = Branch(bid, covers, "branch", bid, opened, None, rnd.random() < 0.3)
            members = [f"m{bid}-{k}" for k in range(rnd.randint(0, 9))]
            f.stints += [Stint(m, bid, date(2025, 1, 1), None, pocket=rnd.random() < 0.1) for m in members]
            for n in range(rnd.randint(0, 12)):
                day = Q3.start + timedelta(days=rnd.randrange(92))
                recv = datetime(day.year, day.month, day.day, 3, tzinfo=UTC) + timedelta(days=rnd.choice((0, 1, 20)))
                kind = rnd.choice(KINDS)
                expected = rnd.randint(0, 9)
                f.meetings.append(Meeting(f"e{bid}-{n}", bid, kind, day, rnd.randint(0, 9), expected, recv))
            for m in members:
                for n in range(rnd.randint(0, 4)):
                    day = Q3.start + timedelta(days=rnd.randrange(92))
                    at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
                    f.learning.append(Learning(f"l{m}-{n}", m, day, rnd.randint(1, 90), at))
                for month in ("2026-07", "2026-08", "2026-09"):
                    if rnd.random() < 0.7:
                        f.dues.append(DuesPayment(f"d{m}-{month}", m, month, datetime(2026, 9, 1, tzinfo=UTC)))
            if rnd.random() < 0.3:
                f.ratings.append(Rating(f"r{bid}", "branch", bid, "ev", rnd.choice(("excellent", "good", "average"))))
    return f


def test_whole_random_quarters_score_exactly_as_with_the_plain_fraction_sums(monkeypatch: Any):
    rnd = random.Random(16)
    quarters = [random_quarter(rnd, rnd.randint(1, 30)) for _ in range(12)]
    fast = [[c.digest() for c in (*r.branches, *r.institutions)] for r in map(score, quarters)]

    original_component = scoring._branches_component

    def reference_component(cards: list[ScoreCard]) -> IndicatorResult:
        found = original_component(cards)
        return found if not cards else replace(found, value=reference_branches_value(cards))

    def reference_weights(table: dict[str, dict[str, F]], ownership: str, names: tuple[str, ...]) -> dict[str, F]:
        raw = table.get(ownership) or next(iter(table.values()))
        total = sum((raw.get(n, F(0)) for n in names), F(0)) or F(1)
        return {n: raw.get(n, F(0)) / total for n in names}

    monkeypatch.setattr(scoring, "_points", lambda results: sum((r.points for r in results), F(0)))
    monkeypatch.setattr(scoring, "_branches_component", reference_component)
    monkeypatch.setattr(scoring, "_weights", reference_weights)
    slow = [[c.digest() for c in (*r.branches, *r.institutions)] for r in map(score, quarters)]
    assert fast == slow and sum(map(len, fast)) > 300


def score(facts: PeriodFacts) -> scoring.PeriodScores:
    return scoring.score_period(facts, Q3, RS)


def test_a_cards_digest_is_the_sha256_of_its_sorted_json_however_long_the_card() -> None:
    """Stored digests stay comparable: hashing in pieces (so hashlib keeps the GIL) changes nothing."""
    import hashlib
    import json

    rnd = random.Random(7)
    cards = [c for r in map(score, [random_quarter(rnd, 30) for _ in range(3)]) for c in (*r.branches, *r.institutions)]

    def plain(card: ScoreCard) -> str:
        body = card.as_dict() | {"branches": [plain(b) for b in card.branches]}
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    lengths = [len(json.dumps(c.as_dict(), ensure_ascii=False).encode()) for c in cards]
    assert min(lengths) > 2_047 and max(lengths) > 3 * 2_047  # every card in two pieces or more
    assert [c.digest() for c in cards] == [plain(c) for c in cards]
