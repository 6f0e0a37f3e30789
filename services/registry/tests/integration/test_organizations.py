"""The organisation tree: committee → general branch → branch, joint branches, closing, contacts."""

import pytest
from alliance_shared.pii import PiiVault

pytestmark = pytest.mark.integration


async def test_the_tree_of_an_institution_is_answered_with_contacts_masked(api, topic, make, valid):
    inst = await api.institution(make.uscc())
    committee = await api.organization(inst["id"], "党委", kind="committee", established_at="2010-07-01")
    general = await api.organization(
        inst["id"], "机关党总支", kind="general_branch", parent_id=committee["id"]
    )
    branch = await api.organization(
        inst["id"],
        "第一党支部",
        parent_id=general["id"],
        secretary={"name": "李四", "phone": "13712345678", "email": "li.si@bank.cn"},
    )
    assert branch["secretary"] == {"name": "李四", "phone": "137****5678", "email": "l***@bank.cn"}
    tree = (await api.get(f"/api/v1/institutions/{inst['id']}/organizations", api.admin(inst["id"]))).json()[
        "items"
    ]
    assert [t["id"] for t in tree] == [committee["id"]]
    assert tree[0]["children"][0]["children"][0]["id"] == branch["id"]
    sub = (await api.get(f"/api/v1/organizations/{general['id']}", api.secretariat)).json()
    assert [c["name"] for c in sub["children"]] == ["第一党支部"]
    events = await topic.wait_for_events(3, where=lambda e: e.type == "fpba.organization.opened.v1")
    for event in events:
        valid(event)
    opened = next(e for e in events if e.data["organization_id"] == branch["id"])
    assert opened.data["parent_id"] == general["id"] and opened.data["established_at"] == "2026-07-15"
    vault = PiiVault(api.settings.pii_encryption_key)
    assert vault.open(opened.data["secretary"]["phone_sealed"]) == "13712345678"
    assert "13712345678" not in str(opened.data)


async def test_a_joint_branch_covers_several_institutions_and_only_it_may(api, make):
    a, b = await api.institution(make.uscc()), await api.institution(make.uscc())
    joint = await api.organization(
        a["id"], "联合党支部", kind="joint_branch", institution_ids=[a["id"], b["id"]]
    )
    assert joint["institution_ids"] == [a["id"], b["id"]]
    seen_by_b = await api.get(f"/api/v1/institutions/{b['id']}/organizations", api.admin(b["id"]))
    assert [o["id"] for o in seen_by_b.json()["items"]] == [joint["id"]]
    plain = await api.post(
        "/api/v1/organizations",
        api.secretariat,
        json={"name": "x", "kind": "branch", "institution_ids": [a["id"], b["id"]]},
    )
    assert plain.status_code == 422 and plain.json()["error"]["field"] == "institution_ids"


async def test_an_institution_admin_cannot_attach_another_institution_to_an_organisation(api, make):
    """Every institution an organisation names must be the caller's (issue 17 item 7): B's admin
    naming A, in any place of the list, is refused and nothing is opened; the secretariat may."""
    a, b = await api.institution(make.uscc()), await api.institution(make.uscc())
    for ids in ([b["id"], a["id"]], [a["id"], b["id"]], [a["id"]]):
        refused = await api.post(
            "/api/v1/organizations",
            api.admin(b["id"]),
            json={"name": "联合党支部", "kind": "joint_branch", "institution_ids": ids},
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["field"] == "institution_ids"
    seen_by_a = await api.get(f"/api/v1/institutions/{a['id']}/organizations", api.admin(a["id"]))
    assert seen_by_a.json()["items"] == []
    own = await api.post(
        "/api/v1/organizations",
        api.admin(b["id"]),
        json={"name": "第一党支部", "kind": "branch", "institution_ids": [b["id"]]},
    )
    assert own.status_code == 201, own.text


async def test_a_closed_branch_is_announced_and_takes_no_new_members(api, topic, make, valid):
    inst = await api.institution(make.uscc())
    branch = await api.organization(inst["id"], established_at="2020-01-01")
    r = await api.post(
        f"/api/v1/organizations/{branch['id']}/close", api.admin(inst["id"]), json={"closed_at": "2026-09-30"}
    )
    assert r.status_code == 200 and r.json()["closed_at"] == "2026-09-30"
    [event] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.organization.closed.v1")
    valid(event)
    assert event.data["closed_at"] == "2026-09-30"
    again = await api.post(f"/api/v1/organizations/{branch['id']}/close", api.secretariat)
    assert again.status_code == 409
    member = await api.post(
        "/api/v1/members",
        api.secretariat,
        json={
            "organization_id": branch["id"],
            "name": "张三",
            "id_number": make.id_number(),
            "status": "full",
        },
    )
    assert member.status_code == 409 and member.json()["error"]["code"] == "organization_closed"


async def test_an_update_is_announced_with_the_whole_organisation(api, topic, make, valid):
    inst = await api.institution(make.uscc())
    branch = await api.organization(inst["id"])
    r = await api.patch(
        f"/api/v1/organizations/{branch['id']}",
        api.secretary(branch["id"], inst["id"]),
        json={"has_party_groups": True, "secretary": {"name": "赵六", "phone": "13600000000"}},
    )
    assert r.status_code == 200 and r.json()["secretary"]["phone"] == "136****0000"
    [event] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.organization.updated.v1")
    valid(event)
    assert event.data["has_party_groups"] is True and event.data["name"] == "第一党支部"


async def test_another_tenant_gets_403_on_every_organisation_endpoint(api, make):
    mine, other = await api.institution(make.uscc()), await api.institution(make.uscc())
    branch = await api.organization(mine["id"])
    second = await api.organization(mine["id"], "第二党支部")
    for intruder in (api.admin(other["id"]), api.secretary(second["id"], mine["id"])):
        assert (await api.get(f"/api/v1/organizations/{branch['id']}", intruder)).status_code == 403
        assert (
            await api.patch(f"/api/v1/organizations/{branch['id']}", intruder, json={"name": "y"})
        ).status_code == 403
        assert (await api.post(f"/api/v1/organizations/{branch['id']}/close", intruder)).status_code == 403
        assert (await api.get(f"/api/v1/organizations/{branch['id']}/members", intruder)).status_code == 403
    opened = await api.post(
        "/api/v1/organizations",
        api.admin(other["id"]),
        json={"name": "z", "kind": "branch", "institution_ids": [mine["id"]]},
    )
    assert opened.status_code == 403
    own = await api.post(
        "/api/v1/organizations",
        api.admin(other["id"]),
        json={"name": "z", "kind": "branch", "institution_ids": [other["id"]]},
    )
    assert own.status_code == 201


async def test_an_affiliated_branch_of_one_institution_is_attached_to_another_organisations_committee(
        api, topic, make, valid):
    members_of, association = await api.institution(make.uscc()), await api.institution(make.uscc())
    committee = await api.organization(association["id"], "行业协会党委", kind="committee")
    branch = await api.organization(members_of["id"], "挂靠党支部", kind="affiliated_branch", parent_id=committee["id"])
    assert branch["kind"] == "affiliated_branch" and branch["institution_ids"] == [members_of["id"]]
    [opened] = await topic.wait_for_events(
        1, where=lambda e: e.type == "fpba.organization.opened.v1" and e.data["organization_id"] == branch["id"])
    valid(opened)
    assert opened.data["kind"] == "affiliated_branch" and opened.data["parent_id"] == committee["id"]
    own_tree = await api.get(f"/api/v1/institutions/{members_of['id']}/organizations", api.admin(members_of["id"]))
    assert [o["id"] for o in own_tree.json()["items"]] == [branch["id"]]
    # the host's trees list it under the committee it is attached to, labelled by its kind
    host_tree = await api.get(f"/api/v1/institutions/{association['id']}/organizations", api.admin(association["id"]))
    [root] = host_tree.json()["items"]
    assert root["id"] == committee["id"]
    assert [(c["id"], c["kind"]) for c in root["children"]] == [(branch["id"], "affiliated_branch")]
    subtree = (await api.get(f"/api/v1/organizations/{committee['id']}", api.secretariat)).json()
    assert [c["id"] for c in subtree["children"]] == [branch["id"]]
    member = await api.member(branch["id"], make.id_number())
    assert member["organization_id"] == branch["id"]


@pytest.mark.parametrize("parent", [None, "branch"])
async def test_an_affiliated_branch_needs_a_committee_or_general_branch_to_attach_to(api, make, parent):
    a, b = await api.institution(make.uscc()), await api.institution(make.uscc())
    parent_id = (await api.organization(b["id"], "普通支部"))["id"] if parent else None
    answer = await api.post("/api/v1/organizations", api.secretariat, json={
        "name": "挂靠党支部", "kind": "affiliated_branch", "institution_ids": [a["id"]], "parent_id": parent_id})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "parent_id"
    assert answer.json()["error"]["message"].startswith("挂靠党支部须挂靠于")


async def test_a_plain_branch_still_may_not_hang_under_another_institutions_committee(api, make):
    a, b = await api.institution(make.uscc()), await api.institution(make.uscc())
    committee = await api.organization(b["id"], "党委", kind="committee")
    answer = await api.post("/api/v1/organizations", api.secretariat, json={
        "name": "支部", "kind": "branch", "institution_ids": [a["id"]], "parent_id": committee["id"]})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "parent_id"
