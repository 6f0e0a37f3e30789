"""A draft ruleset checked before it is stored: every problem named by its field (a dotted path into
the YAML, `branch_weights.private.org_life`) and a reason, Chinese first. What passes here is what
`Ruleset.from_mapping` reads, so a stored draft always loads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import yaml

from .ruleset import (
    BRANCH_INDICATORS,
    INSTITUTION_INDICATORS,
    PLAUSIBILITY_CHOICES,
    REVIEW_CHOICES,
    REVIEW_STATES,
    Ruleset,
)

MEETING_KINDS = (
    "branch_general_meeting", "branch_committee_meeting", "party_group_meeting", "party_lesson",
    "theme_party_day", "organizational_life_meeting", "democratic_appraisal",
)  # fmt: skip
CADENCES = ("monthly", "quarterly")
OWNERSHIPS = ("state_owned", "private", "emerging")
LEVELS = ("L1", "L2", "L3")
SEVERITIES = ("minor", "major", "severe")
RATINGS = ("excellent", "good", "average", "poor")
MONTHLY_REPORTS = ("dues", "learning")
VERSION_FORBIDDEN = frozenset("/\\ \t\n$")
MAX_BYTES = 256 * 1024  # a ruleset is a page of YAML; anything far larger is not one


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class DraftInvalid(Exception):
    """The draft cannot be stored: `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))
        self.problems = problems


def parse_text(text: str | bytes) -> dict[str, Any]:
    """The mapping a YAML (or JSON, which is YAML) file holds; `DraftInvalid` when it is none."""
    if len(text) > MAX_BYTES:
        raise DraftInvalid([Problem("file", f"文件过大（上限 {MAX_BYTES // 1024} KiB）/ file too large")])
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行 / line {mark.line + 1}: " if mark is not None else ""
        raise DraftInvalid([Problem("file", f"YAML 无法解析 / not valid YAML: {where}{exc}")]) from None
    if not isinstance(raw, dict):
        raise DraftInvalid([Problem("file", "须为键值映射（YAML 映射或 JSON 对象）/ must be a mapping")])
    return raw


class _Checker:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def bad(self, path: str, zh: str, en: str) -> None:
        self.problems.append(Problem(path, f"{zh} / {en}"))

    def mapping(self, path: str, value: Any, required: bool = True) -> dict[str, Any] | None:
        if value is None and not required:
            return None
        if not isinstance(value, dict):
            self.bad(path, "缺失或不是映射", "missing or not a mapping")
            return None
        return value

    def section(self, name: str, required: bool = True) -> dict[str, Any] | None:
        return self.mapping(name, self.raw.get(name), required)

    def share(self, path: str, value: Any, *, low: Fraction = Fraction(0), high: Fraction = Fraction(1)) -> None:
        number = self.number(path, value)
        if number is not None and not low <= number <= high:
            self.bad(path, f"须在 {low} 到 {high} 之间", f"must be between {low} and {high}")

    def number(self, path: str, value: Any) -> Fraction | None:
        if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
            self.bad(path, "须为数字或分数（如 7/10）", "must be a number or a fraction such as 7/10")
            return None
        try:
            return Fraction(str(value))
        except (ValueError, ZeroDivisionError):
            self.bad(path, f"不是数字：{value!r}", f"not a number: {value!r}")
            return None

    def non_negative(self, path: str, value: Any, high: Fraction | None = None) -> None:
        number = self.number(path, value)
        if number is None:
            return
        if number < 0:
            self.bad(path, "不能为负数", "must not be negative")
        elif high is not None and number > high:
            self.bad(path, f"不能大于 {high}", f"must not exceed {high}")

    def integer(self, path: str, value: Any, low: int = 0) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(path, "须为整数", "must be an integer")
        elif value < low:
            self.bad(path, f"不能小于 {low}", f"must be at least {low}")

    def keys(self, path: str, found: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for key in found:
            if key not in allowed:
                self.bad(
                    f"{path}.{key}", f"未知项，可用：{'、'.join(allowed)}", f"unknown, allowed: {', '.join(allowed)}"
                )

    # -- the sections -----------------------------------------------------------------------
    def check(self) -> None:
        version = self.raw.get("version")
        if not isinstance(version, (str, int, float)) or not str(version).strip():
            self.bad("version", "缺少版本号", "version is required")
        elif len(str(version)) > 40 or any(c in VERSION_FORBIDDEN for c in str(version)):
            self.bad(
                "version",
                "版本号不能含空白、斜杠或 $，且不超过 40 个字符",
                "no spaces, slashes or $, 40 characters at most",
            )
        if "name" in self.raw and not isinstance(self.raw["name"], str):
            self.bad("name", "名称须为文本", "name must be text")
        self.grade_bands()
        self.meetings()
        self.calendar()
        for name, fields in (
            ("org_life", ("frequency_share", "attendance_share")),
            ("public_activity", ("target_participation_share",)),
            ("reporting", ("completeness_share", "timeliness_share")),
            ("coverage", ("member_share", "branch_share")),
        ):
            sec = self.section(name)
            if sec is not None:
                for f in fields:
                    self.share(f"{name}.{f}", sec.get(f))
        org = self.raw.get("org_life")
        if isinstance(org, dict) and not self.problems_under("org_life"):
            total = Fraction(str(org["frequency_share"])) + Fraction(str(org["attendance_share"]))
            if total != 1:
                self.bad(
                    "org_life",
                    f"频次与出席占比之和须为 1（现为 {total}）",
                    f"the two shares must add up to 1 (now {total})",
                )
        reporting = self.raw.get("reporting")
        expected = reporting.get("expected") if isinstance(reporting, dict) else None
        if expected is not None:
            table = self.mapping("reporting.expected", expected)
            if table is not None:
                self.keys("reporting.expected", table, LEVELS)
                for level, e in table.items():
                    if level in LEVELS and self.mapping(f"reporting.expected.{level}", e) is not None:
                        for f in ("completeness", "timeliness"):
                            self.share(f"reporting.expected.{level}.{f}", e.get(f))
        learning = self.section("learning")
        if learning is not None:
            self.integer("learning.minutes_per_member_per_day", learning.get("minutes_per_member_per_day"), 1)
        self.compliance()
        political = self.section("political")
        if political is not None:
            points = self.mapping("political.points", political.get("points"))
            if points is not None:
                for rating in RATINGS:
                    if rating not in points:
                        self.bad(
                            f"political.points.{rating}", "缺少该评价等级的分值", "points for this rating are missing"
                        )
                    else:
                        self.non_negative(f"political.points.{rating}", points[rating], Fraction(100))
                self.keys("political.points", points, RATINGS)
        self.weights("branch_weights", BRANCH_INDICATORS)
        self.weights("institution_weights", INSTITUTION_INDICATORS)
        self.choices("plausibility", {k: v for k, v in PLAUSIBILITY_CHOICES.items()})
        self.choices("review", {k: REVIEW_CHOICES for k in (*REVIEW_STATES, "filed_on_behalf")})
        no_data = self.section("no_data", required=False)
        if no_data is not None:
            for f in ("min_due", "min_reported"):
                if f in no_data:
                    self.integer(f"no_data.{f}", no_data[f])

    def problems_under(self, prefix: str) -> bool:
        return any(p.field == prefix or p.field.startswith(prefix + ".") for p in self.problems)

    def grade_bands(self) -> None:
        bands = self.raw.get("grade_bands")
        if not isinstance(bands, list) or not bands:
            self.bad("grade_bands", "须为非空列表", "must be a non-empty list")
            return
        seen: set[str] = set()
        lowest: Fraction | None = None
        for n, band in enumerate(bands):
            path = f"grade_bands[{n}]"
            if not isinstance(band, dict):
                self.bad(path, "须为映射（grade、label、min）", "must be a mapping of grade, label, min")
                continue
            grade = band.get("grade")
            if not isinstance(grade, str) or not grade:
                self.bad(f"{path}.grade", "缺少等级代码", "grade is required")
            elif grade in seen:
                self.bad(f"{path}.grade", f"等级重复：{grade}", f"grade repeated: {grade}")
            else:
                seen.add(grade)
            if not isinstance(band.get("label"), str) or not band.get("label"):
                self.bad(f"{path}.label", "缺少等级名称", "label is required")
            low = self.number(f"{path}.min", band.get("min"))
            if low is not None:
                if not 0 <= low <= 100:
                    self.bad(f"{path}.min", "须在 0 到 100 之间", "must be between 0 and 100")
                lowest = low if lowest is None else min(lowest, low)
        if lowest is not None and lowest != 0 and not self.problems_under("grade_bands"):
            self.bad("grade_bands", "须有一个下限为 0 的等级（否则低分无等级）", "one band must start at 0")

    def meetings(self) -> None:
        meetings = self.section("meetings")
        if meetings is None:
            return
        if not meetings:
            self.bad("meetings", "至少要求一种会议", "at least one meeting kind is required")
        for kind, spec in meetings.items():
            path = f"meetings.{kind}"
            if kind not in MEETING_KINDS:
                self.bad(path, f"未知会议类型，可用：{'、'.join(MEETING_KINDS)}", "unknown meeting kind")
                continue
            if not isinstance(spec, dict):
                self.bad(path, "须为映射（cadence）", "must be a mapping with a cadence")
                continue
            if spec.get("cadence") not in CADENCES:
                self.bad(f"{path}.cadence", "频次须为 monthly 或 quarterly", "cadence must be monthly or quarterly")

    def calendar(self) -> None:
        cal = self.section("calendar")
        if cal is None:
            return
        self.share("calendar.min_open_share", cal.get("min_open_share"))
        reports = cal.get("monthly_reports", [])
        if not isinstance(reports, list) or any(r not in MONTHLY_REPORTS for r in reports):
            self.bad(
                "calendar.monthly_reports", f"须为列表，取值：{'、'.join(MONTHLY_REPORTS)}", "a list of dues|learning"
            )
        grace = self.mapping("calendar.grace_days", cal.get("grace_days"))
        if grace is not None:
            for level in LEVELS:
                if level not in grace:
                    self.bad(
                        f"calendar.grace_days.{level}",
                        "缺少该上报层级的宽限天数",
                        "grace days for this level are missing",
                    )
                else:
                    self.integer(f"calendar.grace_days.{level}", grace[level])
            self.keys("calendar.grace_days", grace, LEVELS)

    def compliance(self) -> None:
        comp = self.section("compliance")
        if comp is None:
            return
        deductions = self.mapping("compliance.deductions", comp.get("deductions"))
        if deductions is not None:
            for severity, value in deductions.items():
                if severity not in SEVERITIES:
                    self.bad(
                        f"compliance.deductions.{severity}",
                        "未知违规等级，可用：minor、major、severe",
                        "unknown severity",
                    )
                else:
                    self.non_negative(f"compliance.deductions.{severity}", value, Fraction(100))
        veto = comp.get("veto", [])
        if not isinstance(veto, list) or any(v not in SEVERITIES for v in veto):
            self.bad("compliance.veto", "须为列表，取值：minor、major、severe", "a list of minor|major|severe")

    def weights(self, name: str, indicators: tuple[str, ...]) -> None:
        table = self.section(name)
        if table is None:
            return
        for ownership in OWNERSHIPS:
            path = f"{name}.{ownership}"
            weights = self.mapping(path, table.get(ownership))
            if weights is None:
                continue
            self.keys(path, weights, indicators)
            for indicator, value in weights.items():
                if indicator in indicators:
                    self.non_negative(f"{path}.{indicator}", value)
            if not self.problems_under(path) and sum(Fraction(str(v)) for v in weights.values()) <= 0:
                self.bad(path, "权重之和须大于 0", "the weights must add up to more than 0")
        self.keys(name, table, OWNERSHIPS)

    def choices(self, name: str, allowed: dict[str, tuple[str, ...]]) -> None:
        sec = self.section(name, required=False)
        if sec is None:
            return
        for key, value in sec.items():
            if key not in allowed:
                self.bad(f"{name}.{key}", f"未知项，可用：{'、'.join(allowed)}", "unknown setting")
            elif value not in allowed[key]:
                self.bad(
                    f"{name}.{key}", f"取值须为 {'|'.join(allowed[key])}", f"must be one of {'|'.join(allowed[key])}"
                )


def validate(raw: dict[str, Any]) -> Ruleset:
    """The ruleset `raw` describes; `DraftInvalid` naming every problem found when it is not one."""
    checker = _Checker(raw)
    checker.check()
    if checker.problems:
        raise DraftInvalid(checker.problems)
    try:
        return Ruleset.from_mapping(raw)
    except (KeyError, TypeError, ValueError) as exc:  # a shape the checks above did not foresee
        raise DraftInvalid([Problem("ruleset", f"无法读取 / cannot be read: {exc}")]) from None


def canonical(raw: dict[str, Any]) -> dict[str, Any]:
    """The draft as stored: plain JSON values (YAML dates and the like become text)."""
    loaded: dict[str, Any] = json.loads(json.dumps(raw, ensure_ascii=False, default=str))
    return loaded
