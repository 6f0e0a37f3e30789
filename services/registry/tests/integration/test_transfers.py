"""The relation-transfer handshake between two institutions, end to end (each decision audited),
and its overdue notice."""

import asyncio
from datetime import timedelta

import pytest

pytestmark = pytest.mark.integration


async def two_institutions(api, make):
    a, b = (
        await api.institution(make.uscc(), name="甲银行"),
        await api.institution(make.uscc(), name="乙证券"),
    )
    from_branch, to_branch = await api.organization(a["id"]), await api.organization(b["id"])
    member = await api.member(from_branch["id"], make.id_number(), status="full", pocket=False)
    return a, b, from_branch, to_branch, member


async def test_a_transfer_between_two_institutions_runs_end_to_end(api, topic, make, valid):
    a, b, _from_branch, to_branch, member = await two_institutions(api, make)
    r = await api.post(
        f"/api/v1/members/{member['id']}/transfers",
        api.admin(a["id"]),
        json={"to_organization_id": to_branch["id"]},
    )
    assert r.status_code == 201, r.text
    transfer = r.json()
    assert transfer["status"] == "pending" and transfer["deadline"] == "2026-08-14"
    assert transfer["requested_at"].endswith("+08:00")
    again = await api.post(
        f"/api/v1/members/{member['id']}/transfers",
        api.admin(a["id"]),
        json={"to_organization_id": to_branch["id"]},
    )
    assert again.status_code == 409
    # the sending side may not accept its own request; the receiving side sees it pending
    assert (
        await api.post(f"/api/v1/transfers/{transfer['id']}/accept", api.admin(a["id"]))
    ).status_code == 403
    pending = await api.get("/api/v1/transfers?status=pending", api.admin(b["id"]))
    assert [t["id"] for t in pending.json()["items"]] == [transfer["id"]]
    accepted = await api.post(f"/api/v1/transfers/{transfer['id']}/accept", api.admin(b["id"]))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert (
        await api.post(f"/api/v1/transfers/{transfer['id']}/refuse", api.admin(b["id"]))
    ).status_code == 409
    moved = await api.get(f"/api/v1/members/{member['id']}", api.admin(b["id"]))
    assert (moved.json()["organization_id"], moved.json()["institution_id"]) == (to_branch["id"], b["id"])
    assert (await api.get(f"/api/v1/members/{member['id']}", api.admin(a["id"]))).status_code == 403
    got = await api.get(f"/api/v1/transfers/{transfer['id']}", api.admin(b["id"]))
    assert got.json()["status"] == "accepted"

    requested = (
        await topic.wait_for_events(1, where=lambda e: e.type == "fpba.member.transfer_requested.v1")
    )[0]
    done = (await topic.wait_for_events(1, where=lambda e: e.type == "fpba.member.transfer_accepted.v1"))[0]
    valid(requested)
    valid(done)
    assert requested.data["to_institution_id"] == b["id"] and requested.data["deadline"] == "2026-08-14"
    assert done.data["to_organization_id"] == to_branch["id"] and done.data["status"] == "full"
    keys = {dict(r.headers)["ce_id"].decode(): r.key for r in topic.records}
    assert keys[requested.id] == keys[done.id] == a["id"].encode()  # the sending institution's order
    # the receiving side's decision is audited under its institution; the sending side's try was refused
    audited = await topic.wait_for_events(2, where=lambda e: e.type == "fpba.registry_action.audited.v1"
                                          and e.data["object_id"] == transfer["id"])
    assert sorted((e.data["action"], e.data["outcome"], e.data["actor_institution_id"]) for e in audited) == [
        ("transfer.accept", "denied", a["id"]), ("transfer.accepted", "done", b["id"])]
    decided = next(e for e in audited if e.data["outcome"] == "done")
    assert decided.data["institution_id"] == b["id"] and decided.data["object_type"] == "transfer"
    assert decided.data["details"] == {"member_id": member["id"], "from_institution_id": a["id"],
                                       "to_organization_id": to_branch["id"]}


async def test_a_refused_transfer_leaves_the_member_where_it_was(api, topic, make, valid):
    a, b, from_branch, to_branch, member = await two_institutions(api, make)
    transfer = (
        await api.post(
            f"/api/v1/members/{member['id']}/transfers",
            api.secretariat,
            json={"to_organization_id": to_branch["id"]},
        )
    ).json()
    r = await api.post(
        f"/api/v1/transfers/{transfer['id']}/refuse",
        api.secretary(to_branch["id"], b["id"]),
        json={"reason": "查无此人"},
    )
    assert r.status_code == 200 and r.json()["reason"] == "查无此人"
    stay = await api.get(f"/api/v1/members/{member['id']}", api.admin(a["id"]))
    assert stay.json()["organization_id"] == from_branch["id"]
    [event] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.member.transfer_refused.v1")
    valid(event)
    assert event.data["reason"] == "查无此人"
    [audited] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.registry_action.audited.v1"
                                            and e.data["action"] == "transfer.refused")
    assert (audited.data["object_id"], audited.data["institution_id"], audited.data["actor_role"]) == (
        transfer["id"], b["id"], "branch_secretary")
    assert "查无此人" not in str(audited.data)  # the reason may name people: not in the trail


async def test_a_transfer_left_pending_past_its_deadline_is_announced_once(api, topic, make, valid, clock):
    a, b, _from_branch, to_branch, member = await two_institutions(api, make)
    transfer = (
        await api.post(
            f"/api/v1/members/{member['id']}/transfers",
            api.admin(a["id"]),
            json={"to_organization_id": to_branch["id"]},
        )
    ).json()
    clock.advance(timedelta(days=30))  # the deadline day itself: not overdue yet
    await asyncio.sleep(0.6)  # three scans of the background loop
    assert not [e for e in topic.events() if e.type == "fpba.member.transfer_overdue.v1"]
    clock.advance(timedelta(days=2))
    [event] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.member.transfer_overdue.v1")
    valid(event)
    assert event.data["transfer_id"] == transfer["id"] and event.data["days_overdue"] == 2
    await asyncio.sleep(0.8)  # several more scans, and one on demand
    done = await api.post("/api/v1/scans/transfers", api.secretariat, params={"wait": "true"})
    assert (done.status_code, done.json()) == (200, {"announced": 0})
    assert len([e for e in topic.events() if e.type == "fpba.member.transfer_overdue.v1"]) == 1
    late = await api.post(f"/api/v1/transfers/{transfer['id']}/accept", api.admin(b["id"]))
    assert late.status_code == 200 and late.json()["overdue_notified"] is True


async def test_another_tenant_gets_403_on_every_transfer_endpoint(api, make):
    a, _b, _from_branch, to_branch, member = await two_institutions(api, make)
    transfer = (
        await api.post(
            f"/api/v1/members/{member['id']}/transfers",
            api.admin(a["id"]),
            json={"to_organization_id": to_branch["id"]},
        )
    ).json()
    third = await api.institution(make.uscc())
    intruder = api.admin(third["id"])
    assert (await api.get(f"/api/v1/transfers/{transfer['id']}", intruder)).status_code == 403
    assert (await api.post(f"/api/v1/transfers/{transfer['id']}/accept", intruder)).status_code == 403
    assert (await api.post(f"/api/v1/transfers/{transfer['id']}/refuse", intruder)).status_code == 403
    assert (await api.post("/api/v1/scans/transfers", intruder)).status_code == 403
    assert (await api.get("/api/v1/transfers", intruder)).json()["items"] == []


async def test_the_transfer_list_is_paged_with_its_total(api, make):
    a, _b, _from_branch, to_branch, member = await two_institutions(api, make)
    await api.post(f"/api/v1/members/{member['id']}/transfers", api.admin(a["id"]),
                   json={"to_organization_id": to_branch["id"]})
    first = (await api.get("/api/v1/transfers?page_size=1", api.admin(a["id"]))).json()
    second = (await api.get("/api/v1/transfers?page=2&page_size=1", api.admin(a["id"]))).json()
    assert (len(first["items"]), first["total"]) == (1, 1)
    assert (second["items"], second["total"]) == ([], 1)
    assert (await api.get("/api/v1/transfers?page_size=501", api.admin(a["id"]))).status_code == 422
