"""Filing on behalf (上级代办) against the real broker and store: the institution's Party admin and
the secretariat file a branch's meeting through the form's API, the canonical event says who filed
it and on whose behalf (whatever the sender wrote there), and `/api/v1/submissions` shows the
reporter of every submission, the branch's own secretary's and the institution's system's too."""

from __future__ import annotations

from typing import Any

import pytest
from alliance_shared.contracts.topics import ACTIVITY_EVENTS
from alliance_shared.contracts.vocabulary import Role

from .conftest import Platform, meeting_event

pytestmark = pytest.mark.integration
BATCH = {"Content-Type": "application/cloudevents-batch+json"}


def form_meeting(org: str, attendees: list[str], held_at: str) -> dict[str, Any]:
    return {"organization_id": org, "meeting_kind": "theme_party_day", "held_at": held_at,
            "attendee_ids": attendees, "expected_count": len(attendees)}


async def test_a_superior_files_for_a_branch_and_every_submission_names_its_reporter(platform: Platform) -> None:
    c = platform.client
    admin = platform.person(Role.INSTITUTION_ADMIN, "inst-a", subject="admin-a")
    secretary = platform.person(Role.BRANCH_SECRETARY, "inst-a", "org-a", subject="secretary-a")
    secretariat = platform.person(Role.SECRETARIAT, subject="sec-1")
    async with platform.reader(ACTIVITY_EVENTS) as reader:
        by_admin = await c.post("/api/v1/forms/meeting", headers=admin,
                                json=form_meeting("org-a", ["m-1", "m-2"], "2026-10-15 09:00"))
        by_secretary = await c.post("/api/v1/forms/meeting", headers=secretary,
                                    json=form_meeting("org-a", ["m-1"], "2026-10-16 09:00"))
        by_secretariat = await c.post("/api/v1/forms/meeting", headers=secretariat,
                                      json=form_meeting("org-b", ["m-b"], "2026-10-17 09:00"))
        spoofed = meeting_event("oa-1", onbehalfof="org-b", filedby="someone-else")
        by_system = await c.post("/api/v1/events", json=[spoofed], headers={**platform.key("inst-a"), **BATCH})
        for answer in (by_admin, by_secretary, by_secretariat, by_system):
            assert answer.status_code in (200, 202) and answer.json()["accepted"] == 1, answer.text
        events = await reader.wait_for_events(4, where=lambda e: e.type == "fpba.meeting.held.v1")
    filed = {(e.institutionid, e.data["held_at"][:10]): (e.filedby, e.onbehalfof) for e in events}
    assert filed[("inst-a", "2026-10-15")] == ("admin-a", "org-a")  # the Party committee's admin, for org-a
    assert filed[("inst-a", "2026-10-16")] == ("secretary-a", None)  # the branch itself
    assert filed[("inst-b", "2026-10-17")] == ("sec-1", "org-b")  # the secretariat, for org-b of inst-b
    oa = next(e for e in events if e.id == "oa-1")
    assert (oa.filedby, oa.onbehalfof) == (platform.key_ids["inst-a"], None)  # what the sender wrote is not kept

    listed = (await c.get("/api/v1/submissions", headers=secretariat, params={"status": "accepted"})).json()
    reporters = {(i["reporter"], i["on_behalf_of"]) for i in listed["items"]}
    assert {("admin-a", "org-a"), ("secretary-a", None), ("sec-1", "org-b"),
            (platform.key_ids["inst-a"], None)} <= reporters, reporters
    mine = (await c.get("/api/v1/submissions", headers=admin)).json()["items"]
    assert all(i["reporter"] for i in mine)


async def test_a_committee_secretary_files_for_a_branch_under_it_but_not_for_one_elsewhere(platform: Platform) -> None:
    from datetime import date

    from alliance_shared.contracts import registry as reg
    from alliance_shared.testing import wait_for

    tree = [("c-com", "committee", None), ("c-gen", "general_branch", "c-com"), ("c-br", "branch", "c-gen")]
    await platform.publish_registry(
        *[reg.OrganizationOpened(organization_id=o, institution_id="inst-a", institution_ids=["inst-a"], name=o,
                                 kind=kind, parent_id=parent, established_at=date(2020, 1, 1))
          for o, kind, parent in tree],
        reg.MemberRegistered(member_id="m-c", organization_id="c-br", institution_id="inst-a", status="full",
                             joined_at=date(2020, 1, 1)),
    )  # fmt: skip

    async def projected() -> bool:
        return await platform.db["members"].count_documents({"_id": "m-c"}) == 1

    await wait_for(projected, timeout_s=30, what="the committee's tree")
    c = platform.client
    committee = platform.person(Role.BRANCH_SECRETARY, "inst-a", "c-com", subject="committee-secretary")
    general = platform.person(Role.BRANCH_SECRETARY, "inst-a", "c-gen", subject="general-secretary")
    context = (await c.get("/api/v1/forms/context", headers=committee)).json()
    assert "c-br" in {b["id"] for b in context["branches"]} and "org-a" not in {b["id"] for b in context["branches"]}
    async with platform.reader(ACTIVITY_EVENTS) as reader:
        below = await c.post("/api/v1/forms/meeting", headers=committee,
                             json=form_meeting("c-br", ["m-c"], "2026-10-18 09:00"))
        assert below.status_code == 200 and below.json()["accepted"] == 1, below.text
        by_general = await c.post("/api/v1/forms/meeting", headers=general,
                                  json=form_meeting("c-br", ["m-c"], "2026-10-19 09:00"))
        assert by_general.status_code == 200 and by_general.json()["accepted"] == 1, by_general.text
        events = await reader.wait_for_events(2, where=lambda e: e.data.get("organization_id") == "c-br")
    assert sorted((e.filedby, e.onbehalfof) for e in events) == [
        ("committee-secretary", "c-br"), ("general-secretary", "c-br")]
    elsewhere = await c.post("/api/v1/forms/meeting", headers=committee,
                             json=form_meeting("org-a", ["m-1"], "2026-10-18 10:00"))
    assert elsewhere.json()["accepted"] == 0
    assert "本支部" in str(elsewhere.json()["rejected"])
    upward = await c.post("/api/v1/forms/meeting", headers=platform.person(
        Role.BRANCH_SECRETARY, "inst-a", "c-br", subject="branch-secretary"),
        json=form_meeting("c-gen", [], "2026-10-18 11:00"))  # fmt: skip
    assert upward.json()["accepted"] == 0  # a branch's secretary does not file for the organisation above it
