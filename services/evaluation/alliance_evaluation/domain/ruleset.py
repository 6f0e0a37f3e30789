"""The scoring model as data: a versioned ruleset read from `rulesets/<version>.yaml`.

Every number becomes an exact `Fraction` (shares are written "7/10" or as integers), so scoring is
exact arithmetic and the same events give the same scores bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from .errors import UnknownRuleset

RULESET_DIR = Path(__file__).resolve().parent.parent / "rulesets"
BRANCH_INDICATORS = ("org_life", "learning", "dues", "public_activity", "political", "reporting")
INSTITUTION_INDICATORS = ("branches", "political", "compliance", "coverage")

INDICATOR_ZH = {
    "org_life": "组织生活",
    "learning": "线上学习",
    "dues": "党费缴纳",
    "public_activity": "公共活动参与",
    "political": "政治评价",
    "reporting": "报送纪律",
    "branches": "支部得分(按党员加权)",
    "compliance": "遵纪守法",
    "coverage": "组织覆盖",
    "adjustment": "人工调整",
}


def _frac(value: Any) -> Fraction:
    return Fraction(str(value))


@dataclass(frozen=True)
class MeetingRequirement:
    kind: str
    cadence: str  # monthly | quarterly
    only_with_party_groups: bool = False


@dataclass(frozen=True)
class GradeBand:
    grade: str
    label: str
    min: Fraction


@dataclass(frozen=True)
class NoDataRule:
    """When a unit cannot be judged (待评): fewer reports due than `min_due`, or fewer events
    reported (meetings, dues, learning, public activity) than `min_reported`. Its score is kept,
    its grade is `no_data`: it is never 不合格, and never ranked."""

    grade: str = "no_data"
    label: str = "待评"
    min_due: int = 1
    min_reported: int = 1


PLAUSIBILITY_CHOICES = {
    "off_roll_attendees": ("not_counted", "counted"),
    "duplicate_meeting": ("count_once", "count_each"),
}


@dataclass(frozen=True)
class Plausibility:
    """What a plausibility check does to scoring (the flags activity raises at ingest):
    `off_roll_attendees` — attendees not on the branch's roll on the meeting's day are
    `not_counted` toward its attendance, or `counted`; `duplicate_meeting` — a meeting of the same
    branch, kind, instant and attendees reported again counts once (`count_once`) or each time
    (`count_each`)."""

    off_roll_attendees: str = "not_counted"
    duplicate_meeting: str = "count_once"

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> Plausibility:
        for name, value in raw.items():
            if name not in PLAUSIBILITY_CHOICES or value not in PLAUSIBILITY_CHOICES[name]:
                allowed = "; ".join(f"{k}: {'|'.join(v)}" for k, v in PLAUSIBILITY_CHOICES.items())
                raise ValueError(
                    f"评价细则 plausibility.{name} 取值无效 / invalid plausibility.{name}: {value!r} ({allowed})"
                )
        return cls(**{k: str(v) for k, v in raw.items()})

    @property
    def off_roll_counted(self) -> bool:
        return self.off_roll_attendees == "counted"

    @property
    def duplicates_counted(self) -> bool:
        return self.duplicate_meeting == "count_each"


@dataclass(frozen=True)
class LevelExpectation:
    """What the alliance expects of an institution reporting at one maturity level (上报成熟度): the
    share of owed reports made (completeness) and made on time (timeliness, after the level's grace
    days). A spreadsheet reporter (L1) is held to less than a streaming one (L3)."""

    completeness: Fraction
    timeliness: Fraction


DEFAULT_EXPECTED = {
    "L1": LevelExpectation(Fraction(4, 5), Fraction(3, 5)),
    "L2": LevelExpectation(Fraction(9, 10), Fraction(4, 5)),
    "L3": LevelExpectation(Fraction(19, 20), Fraction(19, 20)),
}


REVIEW_STATES = ("pending", "approved", "returned", "resubmitted")
REVIEW_CHOICES = ("counted", "not_counted")


@dataclass(frozen=True)
class ReviewCounting:
    """What a report's review state does to scoring (meetings and public activities, reviewed by
    the institution's Party admin in activity): each state is `counted` or `not_counted`. By
    default a returned report does not count until it is resubmitted; one not yet reviewed counts."""

    pending: str = "counted"
    approved: str = "counted"
    returned: str = "not_counted"
    resubmitted: str = "counted"
    filed_on_behalf: str = "counted"  # 上级代办: a report a superior filed for the branch

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> ReviewCounting:
        for name, value in raw.items():
            if name not in (*REVIEW_STATES, "filed_on_behalf") or value not in REVIEW_CHOICES:
                allowed = f"{'|'.join((*REVIEW_STATES, 'filed_on_behalf'))}: {'|'.join(REVIEW_CHOICES)}"
                raise ValueError(f"评价细则 review.{name} 取值无效 / invalid review.{name}: {value!r} ({allowed})")
        return cls(**{k: str(v) for k, v in raw.items()})

    def counts(self, state: str, on_behalf: bool = False) -> bool:
        """Whether a report in `state` (filed `on_behalf` of its branch or not) counts (an unknown
        state counts as pending)."""
        if on_behalf and self.filed_on_behalf != "counted":
            return False
        return str(getattr(self, state if state in REVIEW_STATES else "pending")) == "counted"


@dataclass(frozen=True)
class Ruleset:
    version: str
    name: str
    grade_bands: tuple[GradeBand, ...]
    meetings: tuple[MeetingRequirement, ...]
    min_open_share: Fraction
    monthly_reports: tuple[str, ...]
    grace_days: dict[str, int]
    org_life_frequency: Fraction
    org_life_attendance: Fraction
    learning_minutes: int
    public_target_share: Fraction
    reporting_completeness: Fraction
    reporting_timeliness: Fraction
    coverage_member: Fraction
    coverage_branch: Fraction
    deductions: dict[str, Fraction]
    veto_severities: frozenset[str]
    rating_points: dict[str, Fraction]
    branch_weights: dict[str, dict[str, Fraction]]
    institution_weights: dict[str, dict[str, Fraction]]
    no_data: NoDataRule = NoDataRule()
    plausibility: Plausibility = Plausibility()
    review: ReviewCounting = ReviewCounting()
    # reporting.expected: each level's expected completeness and timeliness (shown, never scored)
    reporting_expected: dict[str, LevelExpectation] = field(default_factory=lambda: dict(DEFAULT_EXPECTED))

    def grade_of(self, score: Fraction, vetoed: bool = False) -> str:
        if vetoed:
            return self.grade_bands[-1].grade
        for band in self.grade_bands:
            if score >= band.min:
                return band.grade
        return self.grade_bands[-1].grade

    def label_of(self, grade: str) -> str:
        if grade == self.no_data.grade:
            return self.no_data.label
        return next((b.label for b in self.grade_bands if b.grade == grade), grade)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> Ruleset:
        cal, comp = raw["calendar"], raw["compliance"]
        nd = raw.get("no_data") or {}
        bands = sorted(
            (GradeBand(b["grade"], b["label"], _frac(b["min"])) for b in raw["grade_bands"]),
            key=lambda b: b.min,
            reverse=True,
        )
        return cls(
            version=str(raw["version"]),
            name=str(raw.get("name", raw["version"])),
            grade_bands=tuple(bands),
            meetings=tuple(
                MeetingRequirement(kind, spec["cadence"], bool(spec.get("only_with_party_groups")))
                for kind, spec in sorted(raw["meetings"].items())
            ),
            min_open_share=_frac(cal["min_open_share"]),
            monthly_reports=tuple(cal.get("monthly_reports", ())),
            grace_days={str(k): int(v) for k, v in cal["grace_days"].items()},
            org_life_frequency=_frac(raw["org_life"]["frequency_share"]),
            org_life_attendance=_frac(raw["org_life"]["attendance_share"]),
            learning_minutes=int(raw["learning"]["minutes_per_member_per_day"]),
            public_target_share=_frac(raw["public_activity"]["target_participation_share"]),
            reporting_completeness=_frac(raw["reporting"]["completeness_share"]),
            reporting_timeliness=_frac(raw["reporting"]["timeliness_share"]),
            coverage_member=_frac(raw["coverage"]["member_share"]),
            coverage_branch=_frac(raw["coverage"]["branch_share"]),
            deductions={k: _frac(v) for k, v in comp["deductions"].items()},
            veto_severities=frozenset(comp.get("veto", ())),
            rating_points={k: _frac(v) for k, v in raw["political"]["points"].items()},
            branch_weights={o: {k: _frac(v) for k, v in w.items()} for o, w in raw["branch_weights"].items()},
            institution_weights={
                o: {k: _frac(v) for k, v in w.items()} for o, w in raw["institution_weights"].items()
            },
            no_data=NoDataRule(
                label=str(nd.get("label", NoDataRule.label)),
                min_due=int(nd.get("min_due", NoDataRule.min_due)),
                min_reported=int(nd.get("min_reported", NoDataRule.min_reported)),
            ),
            plausibility=Plausibility.from_mapping(raw.get("plausibility") or {}),
            review=ReviewCounting.from_mapping(raw.get("review") or {}),
            reporting_expected=DEFAULT_EXPECTED
            | {
                str(level): LevelExpectation(_frac(e["completeness"]), _frac(e["timeliness"]))
                for level, e in (raw["reporting"].get("expected") or {}).items()
            },
        )


def available_versions(directory: Path = RULESET_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load_ruleset(version: str, directory: Path = RULESET_DIR) -> Ruleset:
    """The ruleset `version` from `directory`; `UnknownRuleset` when there is no such file."""
    if version not in available_versions(directory):
        raise UnknownRuleset(version)
    raw = yaml.safe_load((directory / f"{version}.yaml").read_text(encoding="utf-8"))
    return Ruleset.from_mapping(raw)
