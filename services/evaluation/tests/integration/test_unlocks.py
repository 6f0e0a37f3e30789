"""Unlock exceptions of a closed period against the real broker and store: the secretariat grants
one for a branch (who asked, why, until when), the branch's drill-down shows it, it is announced on
`evaluation.events.v1` with the period's closing before it, it is revoked, and each step is audited.
Only the secretariat grants, and only on a closed period."""

from __future__ import annotations

from typing import Any

import pytest
from alliance_shared.contracts.topics import EVALUATION_EVENTS
from alliance_shared.testing import TopicReader

from .conftest import at

pytestmark = pytest.mark.integration
Q2 = "2026-Q2"


async def test_a_closed_period_is_unlocked_for_one_branch_shown_on_its_drill_down_and_revoked(service: Any) -> None:
    s = service
    await s.institution("u1")
    await s.branch("ub", ["u1"])
    await s.member("um", "ub", "u1")
    await s.meeting("ub", "u1", "branch_committee_meeting", at(2026, 5, 3), ["um"], 1, at(2026, 5, 3))
    await s.settle()
    sec = s.token()
    rescored = await s.client.post(f"/api/v1/periods/{Q2}/rescore", headers=sec, params={"wait": "true"})
    assert rescored.status_code == 200
    ask = {"organization_id": "ub", "requested_by": "支部书记 张三", "reason": "系统故障漏报五月支部委员会",
           "until": "2026-10-20T18:00:00+08:00"}  # fmt: skip
    still_open = await s.client.post("/api/v1/periods/2026-Q3/unlocks", headers=sec, json=ask)
    assert still_open.status_code == 409 and still_open.json()["error"]["message"].startswith("该期间未关闭")
    assert (await s.client.post(f"/api/v1/periods/{Q2}/close", headers=sec)).status_code == 200

    admin = s.token("institution_admin", institution_id="u1", subject="admin-u1")
    assert (await s.client.post(f"/api/v1/periods/{Q2}/unlocks", headers=admin, json=ask)).status_code == 403
    both = await s.client.post(f"/api/v1/periods/{Q2}/unlocks", headers=sec, json={**ask, "institution_id": "u1"})
    assert both.status_code == 422
    ended = {**ask, "until": "2026-10-01T00:00:00Z"}
    past = await s.client.post(f"/api/v1/periods/{Q2}/unlocks", headers=sec, json=ended)
    assert past.status_code == 422 and past.json()["error"]["field"] == "until"

    async with TopicReader(s.settings.kafka_bootstrap_servers, s.settings.kafka_topic_prefix + EVALUATION_EVENTS) as r:
        granted = await s.client.post(f"/api/v1/periods/{Q2}/unlocks", headers=sec, json=ask)
        assert granted.status_code == 201, granted.text
        unlock = granted.json()
        assert unlock["status"] == "active" and unlock["granted_by"] == "sec-1"
        card = (await s.client.get(f"/api/v1/periods/{Q2}/organizations/ub", headers=admin)).json()
        assert [(u["id"], u["requested_by"], u["reason"], u["status"]) for u in card["unlocks"]] == [
            (unlock["id"], "支部书记 张三", "系统故障漏报五月支部委员会", "active")
        ]
        revoked = await s.client.delete(f"/api/v1/periods/{Q2}/unlocks/{unlock['id']}", headers=sec)
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
        again = await s.client.delete(f"/api/v1/periods/{Q2}/unlocks/{unlock['id']}", headers=sec)
        assert again.status_code == 409
        card = (await s.client.get(f"/api/v1/periods/{Q2}/organizations/ub", headers=admin)).json()
        assert [u["status"] for u in card["unlocks"]] == ["revoked"]
        told = await r.wait_for_events(3, where=lambda e: e.type.startswith("fpba.period."))
    assert [e.type for e in told] == [
        "fpba.period.closed.v1", "fpba.period.unlocked.v1", "fpba.period.unlock_revoked.v1"
    ]
    assert told[1].data["organization_id"] == "ub" and told[1].data["requested_by"] == "支部书记 张三"
    audit = await s.ev.models.db.audit.find({"period": Q2}).to_list(None)
    assert {"period.closed", "period.unlocked", "period.unlock_revoked"} <= {a["action"] for a in audit}
