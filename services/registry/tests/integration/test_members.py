"""Members: masked answers, audited unmasked reads, the development pipeline, and tenancy. No
answer and no log line may carry an unmasked ID number."""

import logging

import pytest
from stdnum.cn import ric

pytestmark = pytest.mark.integration


async def test_a_member_is_answered_masked_and_announced_without_personal_data(
    api, topic, make, valid, caplog
):
    caplog.set_level(logging.DEBUG)
    inst = await api.institution(make.uscc())
    branch = await api.organization(inst["id"])
    id_number = make.id_number()
    r = await api.post(
        "/api/v1/members",
        api.secretary(branch["id"], inst["id"]),
        json={
            "organization_id": branch["id"],
            "name": "张三",
            "id_number": id_number,
            "phone": "13812345678",
            "status": "probationary",
            "joined_at": "2026-01-10",
            "cadre_roles": ["pioneer_post"],
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id_number"] == id_number[:4] + "*" * 10 + id_number[-4:]
    assert body["phone"] == "138****5678" and body["institution_id"] == inst["id"]
    for url in (f"/api/v1/members/{body['id']}", f"/api/v1/organizations/{branch['id']}/members"):
        got = await api.get(url, api.admin(inst["id"]))
        assert got.status_code == 200 and body["id_number"] in got.text
    [event] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.member.registered.v1")
    valid(event)
    assert event.data["status"] == "probationary" and event.data["cadre_roles"] == ["pioneer_post"]
    raw = id_number, "13812345678"
    assert not any(v in answer for answer in api.answers for v in raw)
    assert not any(v in str(record.value) for record in topic.records for v in raw)
    stored = await api.app.state.registry.store.get("members", body["id"])
    assert id_number not in str(stored)  # sealed at rest, with a keyed hash for lookup
    assert id_number not in caplog.text


async def test_a_member_born_before_their_district_existed_is_registered_and_a_bad_date_named(api, make):
    inst = await api.institution(make.uscc())
    branch = await api.organization(inst["id"])
    member = await api.member(branch["id"], "44030419760111582X")  # 福田区 since 1990; born 1976
    assert member["id_number"] == "4403**********582X"
    body = "44030419761311582"  # month 13
    bad = await api.post(
        "/api/v1/members",
        api.secretariat,
        json={"organization_id": branch["id"], "name": "张三", "status": "full",
              "id_number": body + ric.calc_check_digit(body + "0")},
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "id_number"
    assert bad.json()["error"]["message"].startswith("身份证号出生日期无效")


async def test_a_bad_id_number_is_422_on_id_number_and_a_registered_one_409(api, make, caplog):
    caplog.set_level(logging.DEBUG)
    inst = await api.institution(make.uscc())
    branch = await api.organization(inst["id"])
    bad_number = make.wrong_check(make.id_number())
    bad = await api.post(
        "/api/v1/members",
        api.secretariat,
        json={"organization_id": branch["id"], "name": "张三", "id_number": bad_number, "status": "full"},
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "id_number"
    assert bad_number not in bad.text and bad_number not in caplog.text
    id_number = make.id_number()
    await api.member(branch["id"], id_number)
    again = await api.post(
        "/api/v1/members",
        api.secretariat,
        json={
            "organization_id": branch["id"],
            "name": "张三",
            "id_number": id_number.lower(),
            "status": "full",
        },
    )
    assert again.status_code == 409 and again.json()["error"]["field"] == "id_number"
    phone = await api.post(
        "/api/v1/members",
        api.secretariat,
        json={
            "organization_id": branch["id"],
            "name": "李四",
            "id_number": make.id_number(),
            "phone": "12345",
            "status": "full",
        },
    )
    assert phone.status_code == 422 and phone.json()["error"]["field"] == "phone"


async def test_only_the_secretariat_reads_unmasked_values_and_every_read_is_audited(api, make, caplog):
    caplog.set_level(logging.DEBUG)
    inst = await api.institution(make.uscc())
    branch = await api.organization(inst["id"])
    id_number = make.id_number()
    member = await api.member(branch["id"], id_number)
    url = f"/api/v1/members/{member['id']}/unmasked?purpose=组织关系核查"
    assert (await api.get(url, api.admin(inst["id"]))).status_code == 403
    r = await api.client.get(url, headers=api.secretariat)  # deliberately not kept in api.answers
    assert r.status_code == 200 and r.json()["id_number"] == id_number and r.json()["phone"] == "13812345678"
    audit = await api.app.state.registry.store.find("audit", {"object_id": member["id"]})
    assert sorted((a["action"], a["outcome"], a["actor_role"]) for a in audit) == [
        ("member.pii.read", "denied", "institution_admin"),
        ("member.pii.read", "done", "secretariat"),
    ]
    read = next(a for a in audit if a["outcome"] == "done")
    assert read["details"]["purpose"] == "组织关系核查" and read["institution_id"] == inst["id"]
    assert id_number not in str(audit)
    assert id_number not in caplog.text


async def test_the_pipeline_moves_forward_with_dated_steps_and_is_announced(api, topic, make, valid):
    inst = await api.institution(make.uscc())
    branch = await api.organization(inst["id"])
    member = await api.member(branch["id"], make.id_number(), status="activist", joined_at="2025-03-01")
    r = await api.patch(
        f"/api/v1/members/{member['id']}",
        api.admin(inst["id"]),
        json={"status": "candidate", "effective_at": "2026-06-01", "pocket": True},
    )
    assert r.status_code == 200
    assert r.json()["status_history"][-1] == {"status": "candidate", "effective_at": "2026-06-01"}
    back = await api.patch(
        f"/api/v1/members/{member['id']}", api.admin(inst["id"]), json={"status": "applicant"}
    )
    assert back.status_code == 422 and back.json()["error"]["field"] == "status"
    [event] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.member.status_changed.v1")
    valid(event)
    assert (event.data["previous_status"], event.data["status"], event.data["pocket"]) == (
        "activist",
        "candidate",
        True,
    )
    left = await api.post(
        f"/api/v1/members/{member['id']}/leave",
        api.admin(inst["id"]),
        json={"left_at": "2026-07-01", "reason": "组织关系转出联盟"},
    )
    assert left.status_code == 200 and left.json()["left_at"] == "2026-07-01"
    [gone] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.member.left.v1")
    valid(gone)
    listed = await api.get(f"/api/v1/organizations/{branch['id']}/members", api.admin(inst["id"]))
    assert listed.json()["total"] == 0


async def test_another_tenant_gets_403_on_every_member_endpoint(api, make):
    mine, other = await api.institution(make.uscc()), await api.institution(make.uscc())
    branch, second = await api.organization(mine["id"]), await api.organization(mine["id"], "第二党支部")
    elsewhere = await api.organization(other["id"])
    member = await api.member(branch["id"], make.id_number())
    key = (await api.post(f"/api/v1/institutions/{other['id']}/api-keys", api.secretariat)).json()["api_key"]
    url = f"/api/v1/members/{member['id']}"
    for intruder in (
        api.admin(other["id"]),
        api.secretary(second["id"], mine["id"]),
        {"X-Api-Key": key},
        api.token("evaluator"),
    ):
        assert (await api.get(url, intruder)).status_code == 403
        assert (await api.patch(url, intruder, json={"pocket": True})).status_code == 403
        assert (await api.post(f"{url}/leave", intruder)).status_code == 403
        assert (await api.get(f"{url}/unmasked?purpose=check", intruder)).status_code == 403
        assert (
            await api.post(f"{url}/transfers", intruder, json={"to_organization_id": elsewhere["id"]})
        ).status_code == 403
    foreign = await api.post(
        "/api/v1/members",
        api.admin(other["id"]),
        json={
            "organization_id": branch["id"],
            "name": "王五",
            "id_number": make.id_number(),
            "status": "full",
        },
    )
    assert foreign.status_code == 403


async def test_an_institutions_roster_pages_by_cursor_and_only_its_own_people_see_it(api, make):
    """GET /institutions/{id}/members: every current member once across pages (a joint branch's
    member of this institution included, the other institution's not), masked; others refused."""
    a, b = await api.institution(make.uscc()), await api.institution(make.uscc())
    branch = await api.organization(a["id"])
    joint = await api.organization(a["id"], "联合党支部", kind="joint_branch", institution_ids=[a["id"], b["id"]])
    ids = {(await api.member(branch["id"], make.id_number()))["id"] for _ in range(5)}
    ids.add((await api.member(joint["id"], make.id_number(), institution_id=a["id"]))["id"])
    other = (await api.member(joint["id"], make.id_number(), institution_id=b["id"]))["id"]
    left = (await api.member(branch["id"], make.id_number()))["id"]
    gone = await api.post(f"/api/v1/members/{left}/leave", api.secretariat, json={"reason": "转出"})
    assert gone.status_code == 200
    url = f"/api/v1/institutions/{a['id']}/members"
    seen, after, pages = [], None, 0
    while True:
        page = (await api.get(url, api.admin(a["id"]), params={"limit": 2} | ({"after": after} if after else {})))
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [m["id"] for m in body["items"]]
        assert all("*" in m["id_number"] for m in body["items"])
        pages += 1
        if body["next"] is None:
            break
        after = body["next"]
    assert sorted(seen) == seen and set(seen) == ids and len(seen) == 6 and pages == 3
    assert other not in seen and left not in seen
    for headers in (api.admin(b["id"]), api.secretary(branch["id"], a["id"]), api.token("evaluator")):
        assert (await api.get(url, headers)).status_code == 403
    assert (await api.get(url, api.secretariat, params={"limit": 501})).status_code == 422
    assert (await api.get("/api/v1/institutions/ins_nosuch/members", api.secretariat)).status_code == 404
