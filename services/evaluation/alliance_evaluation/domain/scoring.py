"""Scoring: facts + ruleset + classification as of the period's end → score cards with evidence.

Pure and deterministic: inputs are sorted, arithmetic is exact (`Fraction`), rounding happens once
when a card is rendered. Same facts and ruleset ⇒ the same cards, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from . import indicators as ind
from .calendar import ObligationCalendar, grace_for, pending_on
from .facts import Branch, Classification, Institution, PeriodFacts
from .periods import Period
from .results import IndicatorResult, ScoreCard, redistribute
from .ruleset import BRANCH_INDICATORS, INSTITUTION_INDICATORS, Ruleset

BRANCH_KINDS = ("branch", "joint_branch", "affiliated_branch", "temporary_branch")
REDISTRIBUTED = "无数据，权重已按比例分配给其他指标 / not applicable: weight redistributed to the others"
UNCLASSIFIED = Classification("state_owned", "established_complete", "L1")


@dataclass(frozen=True)
class PeriodScores:
    period: str
    ruleset: str
    institutions: tuple[ScoreCard, ...]
    branches: tuple[ScoreCard, ...]


def classification_for(inst: Institution | None, period: Period, day: date | None = None) -> Classification:
    """The class that scores a period: the one in force on its last day (or on `day`, the day an
    open period is judged on)."""
    found = inst.as_of(day or period.end) if inst is not None else None
    return found or UNCLASSIFIED


# (table, ownership, names) → weights: the same few per ruleset, asked for by every card
_WEIGHTS: dict[tuple[int, str, tuple[str, ...]], tuple[object, dict[str, Fraction]]] = {}


def _belongs(inst: Institution | None, day: date) -> bool:
    """Whether the institution was in the alliance by `day` (an unknown or unclassified one is)."""
    joined = inst.joined if inst is not None else None
    return joined is None or joined <= day


def _in_alliance(branch: Branch, inst: Institution | None) -> Branch:
    """The branch as evaluation sees it: open from the day its institution joined at the earliest,
    so its obligations and its members' days start then."""
    joined = inst.joined if inst is not None else None
    if joined is None or joined <= branch.opened:
        return branch
    return replace(branch, opened=joined)


def _weights(
    table: dict[str, dict[str, Fraction]], ownership: str, names: tuple[str, ...]
) -> dict[str, Fraction]:
    key = (id(table), ownership, names)
    hit = _WEIGHTS.get(key)
    if hit is not None and hit[0] is table:  # the same table object (an id alone can be reused)
        return hit[1]
    raw = table.get(ownership) or next(iter(table.values()))
    total = sum((raw.get(n, Fraction(0)) for n in names), Fraction(0)) or Fraction(1)
    weights = {n: raw.get(n, Fraction(0)) / total for n in names}
    _WEIGHTS[key] = (table, weights)
    return weights


def _points(results: tuple[IndicatorResult, ...]) -> Fraction:
    """`sum(r.points for r in results)` in integers, reduced once (exactly the same Fraction):
    the Fraction sum normalised every partial sum with a gcd, per indicator of every card."""
    num, den = 0, 1
    for r in results:
        v, w = r.value, r.weight
        if v is None or not w:
            continue
        n, d = v.numerator * 100 * w.numerator, v.denominator * w.denominator
        num, den = (num + n, den) if d == den else (num * d + n * den, den * d)
    return Fraction(num, den)


def _with_weight(r: IndicatorResult, weight: Fraction) -> IndicatorResult:
    return IndicatorResult(
        r.indicator, r.value, r.requirement, weight, r.weight, r.evidence, r.details, r.note
    )


def _adjusted(
    results: tuple[IndicatorResult, ...], adjustments: list[tuple[str, str]]
) -> tuple[tuple[IndicatorResult, ...], Fraction]:
    score = _points(results)
    if not adjustments:
        return results, score
    delta = sum((Fraction(Decimal(points)) for _, points in adjustments), Fraction(0))
    line = IndicatorResult(
        "adjustment",
        None,
        "经审批的人工调整 / approved manual adjustments",
        Fraction(0),
        evidence=tuple(sorted(a for a, _ in adjustments)),
        details=(("points", float(delta)),),
    )
    return (*results, line), min(Fraction(100), max(Fraction(0), score + delta))


def _branch_open_in(branch: Branch, idx: ind.PeriodIndex) -> bool:
    return branch.opened <= idx.as_of and (branch.closed is None or branch.closed > idx.period.start)


def score_branch(
    branch: Branch, cls: Classification, idx: ind.PeriodIndex, rs: Ruleset, facts: PeriodFacts
) -> ScoreCard:
    period = idx.period
    calendar = ObligationCalendar(
        branch, period, rs, cls.reporting_level, idx.exemptions_by_org.get(branch.id, [])
    )
    every = calendar.settle(ind.deliveries(branch, idx, rs))  # as if nothing more were to come
    outcomes = [o for o in every if o.fulfilled_by or not pending_on(o.obligation, idx.today)]
    pending = tuple(
        sorted({o.obligation.kind for o in every if not o.fulfilled_by and pending_on(o.obligation, idx.today)})
    )
    days = ind.member_days(branch, idx)
    reporting, completeness, timeliness = ind.reporting(branch, outcomes, rs, cls.reporting_level)
    found = {
        "org_life": ind.org_life(branch, idx, rs, outcomes),
        "learning": ind.learning(branch, idx, rs, days),
        "dues": ind.dues(branch, idx, grace_for(rs, cls.reporting_level)),
        "public_activity": ind.public_activity(branch, idx, rs),
        "political": ind.political("branch", branch.id, idx, rs),
        "reporting": reporting,
    }
    weights = _weights(rs.branch_weights, cls.ownership, BRANCH_INDICATORS)
    results = redistribute([_with_weight(found[n], weights[n]) for n in BRANCH_INDICATORS], REDISTRIBUTED)
    adjustments = [
        (a.adjustment_id, a.points) for a in idx.adjustments_by_object.get(("branch", branch.id), ())
    ]
    results, score = _adjusted(results, adjustments)
    reported = sum(len(found[n].evidence) for n in ("org_life", "learning", "dues", "public_activity"))
    judged = len(outcomes) >= rs.no_data.min_due and reported >= rs.no_data.min_reported
    missing = tuple(sorted({o.obligation.kind for o in outcomes if not o.fulfilled_by}))
    as_of = idx.as_of
    on_roll = {
        s.member_id: s.pocket
        for s in idx.stints_by_org.get(branch.id, ())
        if s.party_member and s.start <= as_of and (s.end is None or s.end > as_of)
    }
    return ScoreCard(
        "branch",
        branch.id,
        branch.institution_ids[0],
        str(period),
        rs.version,
        cls.ownership,
        cls.reporting_level,
        score,
        rs.grade_of(score) if judged else rs.no_data.grade,
        False,
        results,
        member_days=days,
        members=len(on_roll),
        pocket_members=sum(1 for pocket in on_roll.values() if pocket),
        completeness=completeness,
        timeliness=timeliness,
        missing=missing,
        pending=pending,
        org_life_if_unmet=(
            ind.org_life(branch, idx, rs, every).value if pending else found["org_life"].value
        ),
        as_of=idx.as_of,
        provisional=idx.provisional,
    )


def score_institution(
    inst_id: str,
    cls: Classification,
    branch_cards: list[ScoreCard],
    idx: ind.PeriodIndex,
    rs: Ruleset,
    facts: PeriodFacts,
) -> ScoreCard:
    period = idx.period
    cards = sorted(branch_cards, key=lambda c: c.object_id)
    found = {
        "branches": _branches_component(cards),
        "political": ind.political("institution", inst_id, idx, rs),
        "compliance": _compliance(inst_id, rs, idx),
        "coverage": _coverage(inst_id, rs, idx),
    }
    weights = _weights(rs.institution_weights, cls.ownership, INSTITUTION_INDICATORS)
    results = redistribute(
        [_with_weight(found[n], weights[n]) for n in INSTITUTION_INDICATORS], REDISTRIBUTED
    )
    adjustments = [
        (a.adjustment_id, a.points) for a in idx.adjustments_by_object.get(("institution", inst_id), ())
    ]
    results, score = _adjusted(results, adjustments)
    vetoed = bool(dict(found["compliance"].details).get("vetoed"))
    # judged through its branches: with none that could be judged, only a veto is a verdict
    judged = vetoed or any(c.grade != rs.no_data.grade for c in cards)
    owed = [c for c in cards if c.completeness is not None]
    completeness = _mean([c.completeness for c in owed]) if owed else None
    timeliness = _mean([c.timeliness for c in owed]) if owed else None
    return ScoreCard(
        "institution",
        inst_id,
        inst_id,
        str(period),
        rs.version,
        cls.ownership,
        cls.reporting_level,
        score,
        rs.grade_of(score, vetoed) if judged else rs.no_data.grade,
        vetoed,
        results,
        member_days=sum(c.member_days for c in cards),
        members=sum(c.members for c in cards),
        pocket_members=sum(c.pocket_members for c in cards),
        completeness=completeness,
        timeliness=timeliness,
        branches=tuple(cards),
        as_of=idx.as_of,
        provisional=idx.provisional,
    )


def _mean(values: list[Fraction | None]) -> Fraction:
    present = [v for v in values if v is not None]
    return sum(present, Fraction(0)) / len(present) if present else Fraction(0)


def _branches_component(cards: list[ScoreCard]) -> IndicatorResult:
    requirement = "各支部得分按党员人天加权 / branch scores weighted by member-days"
    if not cards:
        # nothing to redistribute: with no branch there is no organisational life to show, and an
        # institution must not reach 优秀 on compliance alone
        return IndicatorResult(
            "branches", Fraction(0), requirement, Fraction(1),
            note="无支部，无组织生活可评 / no branches: no organisational life to score",
        )
    total_days = sum(c.member_days for c in cards)
    # the member-day weighted mean in integers, reduced once (the same Fraction as summing them)
    num, den = 0, 1
    for c in cards:
        weight = c.member_days if total_days else 1
        n, d = c.score.numerator * weight, c.score.denominator
        num, den = (num + n, den) if d == den else (num * d + n * den, den * d)
    value = Fraction(num, den * (total_days or len(cards)) * 100)
    return IndicatorResult(
        "branches",
        value,
        requirement,
        Fraction(1),
        evidence=(),
        details=(("branches", [c.object_id for c in cards]), ("member_days", [c.member_days for c in cards])),
    )


def _compliance(inst_id: str, rs: Ruleset, idx: ind.PeriodIndex) -> IndicatorResult:
    incidents = idx.incidents_by_institution.get(inst_id, [])
    deducted = sum((rs.deductions.get(i.severity, Fraction(0)) for i in incidents), Fraction(0))
    vetoed = any(i.severity in rs.veto_severities for i in incidents)
    value = max(Fraction(0), 100 - deducted) / 100
    note = "严重违规，一票否决 / severe incident: veto" if vetoed else ""
    return IndicatorResult(
        "compliance",
        value,
        "无违规违纪；严重违规一票否决 / no incidents; severe ones veto",
        Fraction(1),
        evidence=tuple(i.event_id for i in incidents),
        details=(("deducted", float(deducted)), ("vetoed", vetoed)),
        note=note,
    )


def _coverage(inst_id: str, rs: Ruleset, idx: ind.PeriodIndex) -> IndicatorResult:
    end = idx.as_of
    covering = [
        b.id
        for b in idx.branches_by_institution.get(inst_id, ())
        if b.kind in BRANCH_KINDS and b.opened <= end and (b.closed is None or b.closed > end)
    ]
    on_roll = [
        s
        for org in covering
        for s in idx.stints_by_org.get(org, ())
        if s.party_member and s.start <= end and (s.end is None or s.end > end)
    ]
    members = len(on_roll)
    inside = sum(1 for s in on_roll if not s.pocket)
    member_share = Fraction(inside, members) if members else Fraction(0)
    value = rs.coverage_member * member_share + rs.coverage_branch * (1 if covering else 0)
    return IndicatorResult(
        "coverage",
        value,
        "党员关系在联盟内、支部或联合支部覆盖 / relations inside, branch coverage",
        Fraction(1),
        details=(("covering_branches", covering), ("members", members), ("pocket_members", members - inside)),
    )


def counted_by_review(facts: PeriodFacts, rs: Ruleset) -> PeriodFacts:
    """The facts less the meetings and public activities whose review state the ruleset does not
    count (`review`: by default a returned report, until it is resubmitted; one a superior filed for
    the branch counts unless `filed_on_behalf: not_counted`)."""
    counts = rs.review.counts
    meetings = [m for m in facts.meetings if counts(m.review, m.on_behalf)]
    public = [p for p in facts.public_activities if counts(p.review, p.on_behalf)]
    if len(meetings) == len(facts.meetings) and len(public) == len(facts.public_activities):
        return facts
    return replace(facts, meetings=meetings, public_activities=public)


def score_period(
    facts: PeriodFacts,
    period: Period,
    rs: Ruleset,
    institution_ids: list[str] | None = None,
    *,
    today: date | None = None,
) -> PeriodScores:
    """Score every institution of `institution_ids` (default: all in `facts`) and its branches, as
    judged on `today` (None: once everything of the period is due). A quarter still open on `today`
    is scored against what is due so far, and its cards are provisional."""
    facts = counted_by_review(facts, rs)
    idx = ind.PeriodIndex.build(facts, period, today)
    as_of = idx.as_of
    wanted = sorted(
        i
        for i in (institution_ids if institution_ids is not None else facts.institutions)
        if _belongs(facts.institutions.get(i), as_of)
    )
    wanted_set = set(wanted)
    by_inst: dict[str, list[ScoreCard]] = {i: [] for i in wanted}
    branch_cards = []
    for found in sorted(facts.branches.values(), key=lambda b: b.id):
        owner = facts.institutions.get(found.institution_ids[0])
        branch = _in_alliance(found, owner)
        if branch.kind not in BRANCH_KINDS or not _branch_open_in(branch, idx):
            continue
        if not wanted_set.intersection(branch.institution_ids):
            continue
        cls = classification_for(owner, period, as_of)
        card = score_branch(branch, cls, idx, rs, facts)
        branch_cards.append(card)
        for inst_id in branch.institution_ids:
            if inst_id in by_inst:
                by_inst[inst_id].append(card)
    inst_cards = [
        score_institution(
            i, classification_for(facts.institutions.get(i), period, as_of), by_inst[i], idx, rs, facts
        )
        for i in wanted
    ]
    return PeriodScores(str(period), rs.version, tuple(inst_cards), tuple(branch_cards))
