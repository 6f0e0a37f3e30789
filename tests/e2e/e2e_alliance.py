"""The e2e tests' alliance: one institution as the secretariat registers it through the registry API."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from alliance_shared.testing import wait_for
from demo_ids import birth_date, make_id_number, make_uscc
from e2e_api import Platform, days_ago, event, expect, meeting, token

SOURCE = "/e2e/oa-system"


@dataclass
class Alliance:
    """One institution as the secretariat registered it, and what it reported."""

    institution_id: str
    api_key: str
    committee: str
    branch: str  # reports regularly
    lagging: str  # last met 75 days ago
    members: list[str]
    lagging_secretary: dict[str, str]
    posted: dict[str, list[str]] = field(default_factory=dict)  # channel → accepted event ids


async def register_alliance(platform: Platform) -> Alliance:
    """The secretariat registers an institution, its tree, members and a key; waits until activity knows them."""
    rng = random.Random()
    suffix = f"{rng.randrange(10**6):06d}"
    secretariat = token("secretariat")
    async with platform.client("registry", token=secretariat) as registry:
        inst = expect(await registry.post("/api/v1/institutions", json={
            "uscc": make_uscc(rng), "name": f"深圳鹏信金融科技有限公司{suffix}", "ownership": "private",
            "sector": "金融科技", "party_org_status": "established_complete", "reporting_level": "L2",
            # in the alliance since before the meetings it reports (an institution is scored only from its joining)
            "effective_from": str(days_ago(200).date()),
            "contact": {"name": "联络员", "phone": "13900000001", "email": "liaison@e2e.alliance.example"}}), 201)
        iid = inst["id"]

        async def org(name: str, kind: str, parent: str | None, phone: str, mail: str) -> str:
            body = {"name": name, "kind": kind, "institution_ids": [iid], "parent_id": parent,
                    "established_at": "2019-07-01", "secretary": {"name": "书记", "phone": phone, "email": mail}}
            return str(expect(await registry.post("/api/v1/organizations", json=body), 201)["id"])

        committee = await org("中共鹏信金融科技委员会", "committee", None, "13900000002", "dw@e2e.alliance.example")
        branch = await org("第一支部委员会", "branch", committee, "13900000003", "zb1@e2e.alliance.example")
        lagging_phone, lagging_mail = "13900000004", "zb2@e2e.alliance.example"
        lagging = await org("第二支部委员会", "branch", committee, lagging_phone, lagging_mail)
        members = []
        for n, org_id in enumerate([branch, branch, branch, lagging, lagging]):
            body = {"organization_id": org_id, "name": f"党员{n}", "status": "full", "joined_at": "2020-07-01",
                    "id_number": make_id_number(rng, birth_date(rng), female=n % 2 == 0), "phone": f"1370000000{n}"}
            created = expect(await registry.post("/api/v1/members", json=body), 201)
            assert "*" in created["id_number"]  # shown masked, never in full
            members.append(created["id"])
        key = expect(await registry.post(f"/api/v1/institutions/{iid}/api-keys", json={"label": "OA"}), 201)
    alliance = Alliance(iid, key["api_key"], committee, branch, lagging, members,
                        {"phone": lagging_phone, "email": lagging_mail})
    # activity learns the key and the tree from registry events: report once it knows them
    probe = [meeting(branch, "theme_party_day", days_ago(1), members[:3], source=SOURCE),
             event("learning.completed", {"member_id": members[3], "date": str(days_ago(1).date()), "minutes": 5},
                   source=SOURCE)]
    async with platform.client("activity", api_key=alliance.api_key) as activity:
        async def knows_us() -> bool:
            answer = await activity.post("/api/v1/events:validate", json=probe,
                                         headers={"Content-Type": "application/cloudevents-batch+json"})
            return answer.status_code == 200 and answer.json()["accepted"] == 2

        await wait_for(knows_us, timeout_s=60, interval_s=0.5, what="activity to know the new institution")
    return alliance
