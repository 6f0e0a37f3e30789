"""What people do to scores, over in-memory read models (`fakes.py`): an evaluator rates only what
it is assigned, an adjustment needs a second person, an institution appeals only its own scores,
an exemption rescores the quarters it covers; every step is audited, nothing moves in a closed
quarter."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from alliance_evaluation.domain.errors import AlreadyDecided, NotAssigned, PeriodClosed, SecondPersonRequired
from alliance_evaluation.usecases import score_decisions
from alliance_evaluation.usecases.score_decisions import (
    DecideAdjustment,
    FileAppeal,
    GrantExemption,
    ProposeAdjustment,
    RateObject,
    ResolveAppeal,
)
from alliance_evaluation.usecases.unit import EvaluationUnit
from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Forbidden

from .fakes import FakeProjections, FakeReadModels, unit

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
SECRETARIAT, SECOND = Principal("sec-1", Role.SECRETARIAT), Principal("sec-2", Role.SECRETARIAT)
EVALUATOR_A = Principal("eva-1", Role.EVALUATOR, institution_id="inst-a")
ADMIN_A = Principal("admin-a", Role.INSTITUTION_ADMIN, institution_id="inst-a")


def setup() -> tuple[EvaluationUnit, FakeReadModels]:
    u = unit(NOW)
    assert isinstance(u.projections, FakeProjections) and isinstance(u.models, FakeReadModels)
    u.projections.institutions_by_org["org-1"] = ["inst-a"]
    return u, u.models


def actions(models: FakeReadModels) -> list[str]:
    return [r["action"] for r in models.trail.records.values()]


async def test_an_evaluator_rates_what_it_is_assigned_and_the_quarter_is_rescored() -> None:
    u, models = setup()
    rated = await score_decisions.rate(u, EVALUATOR_A, RateObject(
        period="2026-Q4", object_type="branch", object_id="org-1", rating="good"))
    assert rated["evaluator"] == "eva-1" and models.dirty == {"2026-Q4": {"inst-a"}}
    assert actions(models) == ["rating.submitted"]
    with pytest.raises(NotAssigned):
        await score_decisions.rate(u, Principal("eva-2", Role.EVALUATOR, institution_id="inst-b"), RateObject(
            period="2026-Q4", object_type="branch", object_id="org-1", rating="poor"))


async def test_an_adjustment_is_decided_by_a_second_person_once_and_rescores_when_approved() -> None:
    u, models = setup()
    proposed = await score_decisions.propose_adjustment(u, SECRETARIAT, ProposeAdjustment(
        period="2026-Q4", object_type="institution", object_id="inst-a", points=Decimal("-2.50"),
        reason="支部换届逾期未报告"))
    assert (proposed["status"], proposed["points"], models.dirty) == ("pending", "-2.50", {})
    with pytest.raises(SecondPersonRequired):
        await score_decisions.decide_adjustment(u, SECRETARIAT, proposed["id"], DecideAdjustment(decision="approved"))
    decided = await score_decisions.decide_adjustment(u, SECOND, proposed["id"], DecideAdjustment(decision="approved"))
    assert (decided["status"], decided["decided_by"], models.dirty) == ("approved", "sec-2", {"2026-Q4": {"inst-a"}})
    with pytest.raises(AlreadyDecided):
        await score_decisions.decide_adjustment(u, SECOND, proposed["id"], DecideAdjustment(decision="rejected"))
    assert actions(models) == ["adjustment.proposed", "adjustment.approved"]


async def test_nothing_is_adjusted_in_a_closed_quarter() -> None:
    u, models = setup()
    models.periods["2026-Q3"] = {"status": "closed"}
    with pytest.raises(PeriodClosed):
        await score_decisions.propose_adjustment(u, SECRETARIAT, ProposeAdjustment(
            period="2026-Q3", object_type="institution", object_id="inst-a", points=Decimal("1"), reason="迟报补正"))
    assert models.collections == {} and actions(models) == []


async def test_an_institution_appeals_its_own_score_against_the_computation_it_saw() -> None:
    u, models = setup()
    models.scores[("2026-Q4", "branch", "org-1")] = {"computation_id": "c-7"}
    appeal = await score_decisions.file_appeal(u, ADMIN_A, FileAppeal(
        period="2026-Q4", object_type="branch", object_id="org-1", reason="会议记录已补报"))
    assert (appeal["status"], appeal["computation_id"], appeal["institution_id"]) == ("open", "c-7", "inst-a")
    with pytest.raises(Forbidden):
        await score_decisions.file_appeal(u, Principal("admin-b", Role.INSTITUTION_ADMIN, institution_id="inst-b"),
                                          FileAppeal(period="2026-Q4", object_type="branch", object_id="org-1",
                                                     reason="不是我们的"))
    resolved = await score_decisions.resolve_appeal(u, SECRETARIAT, appeal["id"], ResolveAppeal(
        decision="upheld", note="已核实"))
    assert resolved["status"] == "upheld"
    with pytest.raises(AlreadyDecided):
        again = ResolveAppeal(decision="dismissed", note="x")
        await score_decisions.resolve_appeal(u, SECRETARIAT, appeal["id"], again)


async def test_an_exemption_rescores_each_open_quarter_it_covers() -> None:
    u, models = setup()
    models.periods["2026-Q3"] = {"status": "closed"}
    granted = await score_decisions.exempt(u, SECRETARIAT, GrantExemption(
        organization_id="org-1", start=date(2026, 9, 1), end=date(2026, 11, 30), reason="支部改组期间"))
    assert granted["institution_id"] == "inst-a" and models.dirty == {"2026-Q4": {"inst-a"}}
    assert actions(models) == ["exemption.granted"]
