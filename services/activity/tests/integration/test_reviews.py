"""The review of submissions against the real broker and store: the institution's Party admin
returns a meeting with a comment (a return without one is refused, Chinese first), the branch's
secretary sees it returned on the form and resubmits it corrected, the admin approves it, and an
approved report is final. The secretariat reviews emerging institutions without a Party organisation
only. Every step is announced on `activity.events.v1`, keyed like the report, and audited."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.topics import ACTIVITY_EVENTS
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.testing import wait_for

from .conftest import Platform, meeting_event
from .test_form import bearer, form_platform

pytestmark = pytest.mark.integration
BATCH = {"Content-Type": "application/cloudevents-batch+json"}


async def _post(platform: Platform, *events: dict[str, Any]) -> dict[str, Any]:
    headers = {**platform.key("inst-a"), **BATCH}
    answer = await platform.client.post("/api/v1/events", json=list(events), headers=headers)
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_returned_meeting_is_resubmitted_corrected_approved_and_then_final(infra: Any) -> None:
    async with form_platform(infra) as platform, platform.reader(ACTIVITY_EVENTS) as reader:
        c = platform.client
        admin = platform.person(Role.INSTITUTION_ADMIN, "inst-a", subject="admin-a")
        signed = await c.post("/api/v1/forms/sign-in", json={"institution_id": "inst-a", "organization_id": "org-a"})
        secretary = bearer(signed.json()["token"])
        meeting = {"organization_id": "org-a", "meeting_kind": "branch_committee_meeting",
                   "held_at": "2026-10-15 14:30", "attendee_ids": ["m-1"], "expected_count": 3}
        assert (await c.post("/api/v1/forms/meeting", headers=secretary, json=meeting)).json()["accepted"] == 1
        await _post(platform, meeting_event("oa-1"))
        learning = {"specversion": "1.0", "id": "learn-1", "source": "/oa", "type": "fpba.learning.completed.v1",
                    "data": {"member_id": "m-1", "date": "2026-10-12", "minutes": 30}}
        await _post(platform, learning)

        queue = (await c.get("/api/v1/reviews", headers=admin)).json()
        assert queue["total"] == 2 and {i["state_zh"] for i in queue["items"]} == {"待审核"}  # learning is not reviewed
        form_id = next(i["id"] for i in queue["items"] if i["channel"] == "form")
        assert next(i for i in queue["items"] if i["id"] == form_id)["kind_zh"] == "支部委员会"

        # a return needs its comment; another institution's admin and a branch secretary may not review
        blank = await c.post(f"/api/v1/submissions/{form_id}/return", headers=admin, json={"comment": "  "})
        assert blank.status_code == 422 and blank.json()["error"]["field"] == "comment"
        assert blank.json()["error"]["message"].startswith("退回须填写退回意见")
        other = platform.person(Role.INSTITUTION_ADMIN, "inst-b")
        assert (await c.post(f"/api/v1/submissions/{form_id}/approve", headers=other)).status_code == 403
        assert (await c.post(f"/api/v1/submissions/{form_id}/approve", headers=secretary)).status_code == 403
        learned = await c.post("/api/v1/submissions/learn-1/approve", headers=admin)
        assert learned.status_code == 422 and learned.json()["error"]["field"] == "submission_id"

        why = "参会人员名单不完整，请补充后重新提交"
        returned = await c.post(f"/api/v1/submissions/{form_id}/return", headers=admin, json={"comment": why})
        assert returned.status_code == 200, returned.text
        assert returned.json()["state"] == "returned" and returned.json()["history"][-1]["comment"] == why
        again = await c.post(f"/api/v1/submissions/{form_id}/return", headers=admin, json={"comment": why})
        assert again.status_code == 409

        # the secretary sees it returned, with the comment and what was reported, and corrects it
        sheet = (await c.get("/api/v1/forms/branches/org-a", headers=secretary)).json()
        ours = next(r for r in sheet["reported"] if r["id"] == form_id)
        assert ours["review"]["state_zh"] == "已退回" and ours["review"]["comment"] == why
        assert ours["review"]["reported"]["attendee_ids"] == ["m-1"]
        corrected = {**meeting, "attendee_ids": ["m-1", "m-2", "m-3"], "resubmits": form_id, "comment": "已补充"}
        done = (await c.post("/api/v1/forms/meeting", headers=secretary, json=corrected)).json()
        assert done["accepted"] == 1 and done["resubmitted"] is True, done
        sheet = (await c.get("/api/v1/forms/branches/org-a", headers=secretary)).json()
        states = {r["id"]: r["review"]["state"] for r in sheet["reported"]}
        assert form_id not in states  # corrected: the correction stands for it
        new_id = next(i for i, s in states.items() if s == "resubmitted")

        queue = (await c.get("/api/v1/reviews", headers=admin)).json()
        assert {i["id"]: i["state"] for i in queue["items"]} == {new_id: "resubmitted", "oa-1": "pending"}
        assert (await c.post(f"/api/v1/submissions/{new_id}/approve", headers=admin, json={})).json()["state"] == (
            "approved"
        )
        final = await c.post(f"/api/v1/submissions/{new_id}/return", headers=admin, json={"comment": "再看看"})
        assert final.status_code == 409 and final.json()["error"]["message"].startswith("该上报已审核通过")
        history = (await c.get("/api/v1/reviews", headers=admin, params={"view": "history"})).json()
        assert [i["id"] for i in history["items"]] == [new_id, form_id]
        assert [s["state"] for s in history["items"][1]["history"]] == ["returned", "resubmitted"]
        assert (await c.get(f"/api/v1/submissions/{form_id}/review", headers=secretary)).json()["resubmitted_as"] == (
            new_id
        )

        # each step announced after the report, keyed by its branch
        steps = await reader.wait_for_events(
            3, where=lambda e: e.type.startswith("fpba.submission.") and e.type != "fpba.submission.rejected.v1"
        )
        assert [(e.type, e.data["submission_id"]) for e in steps] == [
            ("fpba.submission.returned.v1", form_id),
            ("fpba.submission.resubmitted.v1", new_id),
            ("fpba.submission.approved.v1", new_id),
        ]
        assert steps[0].data["comment"] == why and steps[0].data["activity_kind"] == "branch_committee_meeting"
        assert steps[1].data["returned_id"] == form_id and [e.data["version"] for e in steps] == [1, 1, 2]
        assert {e.subject for e in steps} == {"org-a"}  # the Kafka key of the report's own events

        # and each audited in the same write, for the platform's audit trail (no comment: it may name people)
        audited = await reader.wait_for_events(3, where=lambda e: e.type == "fpba.activity_action.audited.v1")
        assert [(e.data["action"], e.data["object_id"], e.data["actor_role"]) for e in audited] == [
            ("submission.returned", form_id, "institution_admin"),
            ("submission.resubmitted", new_id, "branch_secretary"),
            ("submission.approved", new_id, "institution_admin"),
        ]
        assert [e.data["actor"] for e in audited][::2] == ["admin-a", "admin-a"]
        assert {(e.data["service"], e.data["object_type"], e.data["institution_id"]) for e in audited} == {
            ("activity", "submission", "inst-a")
        }
        assert audited[1].data["details"]["returned_id"] == form_id and audited[0].data["details"]["version"] == 1
        assert why not in str([e.data for e in audited])


async def test_the_secretariat_reviews_emerging_institutions_without_a_party_organisation_only(infra: Any) -> None:
    async with form_platform(infra) as platform:
        c = platform.client
        await platform.publish_registry(
            reg.InstitutionRegistered(
                institution_id="inst-e",
                uscc="91440300MA5DXXXX1X",
                name="新兴支付",
                classification=reg.InstitutionClassification(
                    ownership="emerging", party_org_status="not_established_incapable", reporting_level="L2"
                ),
                effective_from=date(2020, 1, 1),
            )
        )

        async def projected() -> bool:
            return await platform.db["institutions"].count_documents({"_id": "inst-e"}) == 1

        await wait_for(projected, timeout_s=30, what="the emerging institution")
        await _post(platform, meeting_event("oa-a"))
        secretariat = platform.person(Role.SECRETARIAT)
        queue = (await c.get("/api/v1/reviews", headers=secretariat)).json()
        assert [i["id"] for i in queue["institutions"]] == ["inst-e"] and queue["items"] == []
        refused = await c.post("/api/v1/submissions/oa-a/approve", headers=secretariat)
        assert refused.status_code == 403 and refused.json()["error"]["message"].startswith("只有本机构党务管理员")
        signed = await c.post("/api/v1/reviews/sign-in", json={"institution_id": "inst-a"})
        admin = bearer(signed.json()["token"])
        assert (await c.post("/api/v1/submissions/oa-a/approve", headers=admin)).json()["state_zh"] == "已通过"
        page = await c.get("/review")
        assert page.status_code == 200 and "上报审核" in page.text
