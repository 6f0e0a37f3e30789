"""The organisational-life requirement a person reads: the meetings the branch owes by their GLOSSARY
names, 党小组会 only for a branch with party groups, and no code in its Chinese part."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from alliance_evaluation.domain.facts import Branch
from alliance_evaluation.domain.indicators import org_life_requirement
from alliance_evaluation.domain.ruleset import load_ruleset

pytestmark = pytest.mark.unit
RS = load_ruleset("2026.1")
PLAIN = Branch("b1", ("i1",), "branch", "支部", date(2020, 1, 1))


def test_a_branch_without_party_groups_is_not_told_to_hold_party_group_meetings() -> None:
    chinese, english = org_life_requirement(PLAIN, RS).split(" / ")
    assert "支部委员会每月≥1" in chinese and "党课每季度≥1" in chinese
    assert "党小组会" not in chinese and "party group" not in english
    assert not re.search(r"[A-Za-z_]{3,}", chinese), chinese


def test_a_branch_with_party_groups_owes_their_monthly_meeting() -> None:
    chinese, english = org_life_requirement(replace(PLAIN, has_party_groups=True), RS).split(" / ")
    assert "党小组会每月≥1" in chinese and "party group meeting monthly" in english
