"""A report admitted under a closed period's unlock exception (activity let it in) rescores that
closed quarter for the branch or institution the exception covers; any other late report into it
is recorded as late and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import at

pytestmark = pytest.mark.integration
Q2 = "2026-Q2"


async def test_a_report_admitted_under_an_unlock_exception_rescores_the_closed_quarter_for_its_branch_only(
    service: Any,
) -> None:
    s = service
    for inst, org, member in (("x1", "xb1", "xm1"), ("x2", "xb2", "xm2")):
        await s.institution(inst)
        await s.branch(org, [inst])
        await s.member(member, org, inst)
        await s.meeting(org, inst, "branch_committee_meeting", at(2026, 4, 8), [member], 1, at(2026, 4, 8))
    await s.settle()
    sec = s.token()
    rescored = await s.client.post(f"/api/v1/periods/{Q2}/rescore", headers=sec, params={"wait": "true"})
    assert rescored.status_code == 200
    assert (await s.client.post(f"/api/v1/periods/{Q2}/close", headers=sec)).status_code == 200

    async def card(org: str) -> dict[str, Any]:
        body: dict[str, Any] = (await s.client.get(f"/api/v1/periods/{Q2}/organizations/{org}", headers=sec)).json()
        return body

    before = {org: (await card(org))["score"] for org in ("xb1", "xb2")}
    ask = {"organization_id": "xb1", "requested_by": "支部书记 李四", "reason": "系统故障漏报五月支部委员会",
           "until": "2026-10-20T18:00:00+08:00"}  # fmt: skip
    assert (await s.client.post(f"/api/v1/periods/{Q2}/unlocks", headers=sec, json=ask)).status_code == 201
    now = s.clock.now()
    late = await s.meeting("xb1", "x1", "branch_committee_meeting", at(2026, 5, 8), ["xm1"], 1, now)
    other = await s.meeting("xb2", "x2", "branch_committee_meeting", at(2026, 5, 8), ["xm2"], 1, now)
    await s.settle()
    unlocked, locked = await card("xb1"), await card("xb2")
    evidence = {e for row in unlocked["breakdown"] for e in row.get("evidence") or []}
    assert late.id in evidence and unlocked["score"] > before["xb1"]  # admitted: the closed quarter counts it
    assert locked["score"] == before["xb2"]  # no exception: reported late, changes nothing
    assert other.id not in {e for row in locked["breakdown"] for e in row.get("evidence") or []}
    late_events = (await s.client.get(f"/api/v1/periods/{Q2}", headers=sec)).json()["late_events"]
    assert {late.id, other.id} <= {e["event_id"] for e in late_events}
