"""The facts scoring reads for a chunk of institutions, through the indexed `$in` reads: one
quarter with a joint branch, a transfer between institutions, members' learning and dues, an
incident, a correction, and another institution's activity that must stay out — the same facts
whichever chunk an institution is scored in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from alliance_evaluation.adapters.projections import Projections
from alliance_evaluation.domain.periods import Period
from alliance_shared.contracts import activity as act
from alliance_shared.contracts import registry as reg

from .conftest import at

pytestmark = pytest.mark.integration
Q4 = Period.parse("2026-Q4")


async def test_a_chunk_loads_its_branches_members_and_events_and_nothing_else(service: Any):
    s = service
    for inst in ("f1", "f2", "f3"):
        await s.institution(inst)
    await s.branch("f1-b", ["f1"])
    await s.branch("f2-b", ["f2"])
    await s.branch("fj", ["f2", "f3"], kind="joint_branch")
    await s.branch("f3-other", ["f3"])
    for m, org, inst in (("fm1", "f1-b", "f1"), ("fm2", "f1-b", "f1"), ("fm3", "fj", "f2"), ("fm4", "f3-other", "f3")):
        await s.member(m, org, inst)
    await s.publish(
        reg.TransferAccepted(
            transfer_id="ft1",
            member_id="fm2",
            institution_id="f1",
            from_organization_id="f1-b",
            to_organization_id="f2-b",
            to_institution_id="f2",
            effective_at=date(2026, 11, 1),
            status="full",
        )
    )
    attending = {"f1-b": ["fm2", "fm1", "fm1"], "fj": [], "f3-other": ["fm4"]}
    for org, inst in (("f1-b", "f1"), ("fj", "f2"), ("f3-other", "f3")):
        await s.meeting(org, inst, "theme_party_day", at(2026, 10, 9), attending[org], 3, at(2026, 10, 10))
    first = await s.meeting("f2-b", "f2", "party_lesson", at(2026, 10, 20), [], 3, at(2026, 10, 21))
    await s.meeting("f2-b", "f2", "party_lesson", at(2026, 10, 21), [], 3, at(2026, 10, 22), supersedes=first.id)
    for m, inst in (("fm1", "f1"), ("fm2", "f1"), ("fm3", "f2"), ("fm4", "f3")):
        await s.publish(act.LearningCompleted(member_id=m, date=date(2026, 10, 15), minutes=45), institutionid=inst)
        await s.publish(act.DuesPaid(member_id=m, month="2026-10", amount_cny=30), institutionid=inst)
    await s.publish(
        act.ComplianceIncidentReported(institution_id="f1", severity="minor", occurred_at=at(2026, 11, 3)),
        institutionid="f1",
    )
    await s.settle()

    loader = Projections(s.ev.projections.db)
    alone = {i: await loader.load_facts(Q4, [i]) for i in ("f1", "f2")}
    together = await loader.load_facts(Q4, ["f1", "f2"])
    for name in ("meetings", "learning", "dues", "incidents"):  # a chunk is the union of its institutions
        union = {x for i in alone.values() for x in getattr(i, name)}
        assert set(getattr(together, name)) == union, name
    assert set(together.branches) == set(alone["f1"].branches) | set(alone["f2"].branches)
    f2 = alone["f2"]
    assert set(f2.branches) == {"f2-b", "fj"}
    assert {x.member_id for x in f2.learning} == {"fm2", "fm3"}  # fm2 moved in; fm4's branch is not f2's
    assert [m.organization_id for m in f2.meetings if m.organization_id == "f2-b"] == ["f2-b"]  # corrected once
    assert not any(m.organization_id == "f3-other" for m in f2.meetings)
    f1 = alone["f1"]
    (held,) = [m for m in f1.meetings if m.organization_id == "f1-b"]
    assert held.attendee_ids == ("fm1", "fm2") and held.attendees == 2  # who attended, each once
    assert held.held_at == at(2026, 10, 9)  # the instant, for telling a meeting reported twice
    assert [i.severity for i in f1.incidents] == ["minor"] and {x.member_id for x in f1.dues} == {"fm1", "fm2"}

    # a whole-quarter rescore reads the quarter's activity once: each chunk finds the same facts
    quarter = await loader.quarter_activities(Q4)
    for ids in (["f1"], ["f2"], ["f1", "f2"], ["f3"]):
        plain, read_once = await loader.load_facts(Q4, ids), await loader.load_facts(Q4, ids, quarter=quarter)
        for name in ("meetings", "learning", "dues", "public_activities", "incidents", "stints"):
            assert sorted(map(repr, getattr(read_once, name))) == sorted(map(repr, getattr(plain, name))), (ids, name)
    assert (await loader.load_facts(Q4, ["f1"], quarter=quarter)).learning
    frozen = datetime(2026, 10, 21, tzinfo=UTC)  # a replay as received by a day: the same cut
    assert sorted(map(repr, (await loader.load_facts(Q4, ["f2"], frozen, quarter=quarter)).meetings)) == sorted(
        map(repr, (await loader.load_facts(Q4, ["f2"], frozen)).meetings)
    )
