"""Institutions through the API: the contract's requests and answers, effective-dated
reclassification, events on the topic, and tenancy."""

import pytest

pytestmark = pytest.mark.integration


async def test_an_institution_is_registered_and_announced_keyed_by_its_id(api, topic, make, valid):
    uscc = make.uscc()
    r = await api.post(
        "/api/v1/institutions",
        api.secretariat,
        json={
            "uscc": uscc,
            "name": "深圳甲银行",
            "ownership": "state_owned",
            "sector": "bank",
            "party_org_status": "established_complete",
            "reporting_level": "L3",
            "contact": {"name": "王五", "phone": "13900001111", "email": "wang.wu@bank.cn"},
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] and body["uscc"] == uscc and body["ownership"] == "state_owned"
    assert body["contact"] == {"name": "王五", "phone": "139****1111", "email": "w***@bank.cn"}
    [event] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.institution.registered.v1")
    valid(event)
    assert event.data["institution_id"] == body["id"] and event.institutionid == body["id"]
    assert event.reportinglevel == "L3"
    assert event.data["contact"]["phone_masked"] == "139****1111"
    assert "13900001111" not in str(event.data)
    record = next(r for r in topic.records if dict(r.headers).get("ce_id", b"").decode() == event.id)
    assert record.key == body["id"].encode()


async def test_a_bad_uscc_check_character_is_422_on_uscc_and_a_registered_one_409(api, make):
    uscc = make.uscc()
    bad = await api.post(
        "/api/v1/institutions",
        api.secretariat,
        json={
            "uscc": make.wrong_check(uscc),
            "name": "乙",
            "ownership": "private",
            "party_org_status": "established_complete",
            "reporting_level": "L1",
        },
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "uscc"
    await api.institution(uscc)
    again = await api.post(
        "/api/v1/institutions",
        api.secretariat,
        json={
            "uscc": uscc,
            "name": "乙",
            "ownership": "private",
            "party_org_status": "established_complete",
            "reporting_level": "L1",
        },
    )
    assert again.status_code == 409 and again.json()["error"]["field"] == "uscc"


async def test_an_unknown_enumeration_value_is_422_naming_the_field(api, make):
    r = await api.post(
        "/api/v1/institutions",
        api.secretariat,
        json={
            "uscc": make.uscc(),
            "name": "乙",
            "ownership": "foreign",
            "party_org_status": "established_complete",
            "reporting_level": "L1",
        },
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "ownership"


async def test_the_list_filters_by_ownership_and_level_and_pages(api, make):
    await api.institution(make.uscc(), ownership="emerging", reporting_level="L1")
    await api.institution(make.uscc(), ownership="emerging", reporting_level="L3")
    await api.institution(make.uscc(), ownership="private", reporting_level="L1")
    r = await api.get("/api/v1/institutions?ownership=emerging&page_size=1", api.secretariat)
    assert r.status_code == 200
    assert r.json()["total"] == 2 and len(r.json()["items"]) == 1
    r = await api.get("/api/v1/institutions?ownership=emerging&reporting_level=L3", api.secretariat)
    assert [i["reporting_level"] for i in r.json()["items"]] == ["L3"]


async def test_a_reclassification_leaves_last_quarters_class_intact(api, topic, make, valid):
    inst = await api.institution(
        make.uscc(), ownership="private", reporting_level="L1", effective_from="2026-01-01"
    )
    r = await api.patch(
        f"/api/v1/institutions/{inst['id']}",
        api.secretariat,
        json={"ownership": "state_owned", "reporting_level": "L2", "effective_from": "2026-07-01"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["ownership"] == "state_owned" and len(r.json()["classification_history"]) == 2
    then = await api.get(f"/api/v1/institutions/{inst['id']}?as_of=2026-06-30", api.secretariat)
    assert (then.json()["ownership"], then.json()["reporting_level"]) == ("private", "L1")
    now = await api.get(f"/api/v1/institutions/{inst['id']}?as_of=2026-07-01", api.secretariat)
    assert (now.json()["ownership"], now.json()["reporting_level"]) == ("state_owned", "L2")
    before = await api.get(f"/api/v1/institutions/{inst['id']}?as_of=2025-12-31", api.secretariat)
    assert before.status_code == 404 and before.json()["error"]["field"] == "as_of"
    [event] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.institution.reclassified.v1")
    valid(event)
    assert event.data["previous"]["ownership"] == "private" and event.data["effective_from"] == "2026-07-01"
    backdated = await api.patch(
        f"/api/v1/institutions/{inst['id']}",
        api.secretariat,
        json={"ownership": "emerging", "effective_from": "2026-03-01"},
    )
    assert backdated.status_code == 422 and backdated.json()["error"]["field"] == "effective_from"


async def test_another_tenant_gets_403_on_every_institution_endpoint(api, make):
    mine = await api.institution(make.uscc())
    other = await api.institution(make.uscc())
    intruder = api.admin(other["id"])
    url = f"/api/v1/institutions/{mine['id']}"
    assert (await api.get(url, intruder)).status_code == 403
    assert (await api.patch(url, intruder, json={"reporting_level": "L3"})).status_code == 403
    assert (await api.get(f"{url}/organizations", intruder)).status_code == 403
    assert (
        await api.post(
            "/api/v1/institutions",
            api.admin(mine["id"]),
            json={
                "uscc": make.uscc(),
                "name": "x",
                "ownership": "private",
                "party_org_status": "established_complete",
                "reporting_level": "L1",
            },
        )
    ).status_code == 403
    listed = await api.get("/api/v1/institutions", intruder)
    assert [i["id"] for i in listed.json()["items"]] == [other["id"]]
    own = await api.patch(f"/api/v1/institutions/{other['id']}", intruder, json={"reporting_level": "L3"})
    assert own.status_code == 200
    audit = await api.app.state.registry.store.find("audit", {"outcome": "denied", "object_id": mine["id"]})
    assert len(audit) >= 3


async def test_no_token_is_401(api, make):
    assert (await api.get("/api/v1/institutions", {})).status_code == 401
    assert (await api.get("/api/v1/institutions", {"X-Api-Key": "fpba_nope_nope"})).status_code == 401
