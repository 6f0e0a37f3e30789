"""Machine credentials: shown once, stored hashed, two active for rotation, revoked at once."""

import pytest
from alliance_shared.auth import hash_api_key
from alliance_shared.pii import PiiVault

pytestmark = pytest.mark.integration


async def test_two_keys_work_side_by_side_and_a_revoked_one_stops_at_once(api, topic, make, valid):
    inst = await api.institution(make.uscc())
    url = f"/api/v1/institutions/{inst['id']}"
    first = await api.post(f"{url}/api-keys", api.admin(inst["id"]), json={"label": "OA"})
    second = await api.post(f"{url}/api-keys", api.secretariat)
    assert first.status_code == second.status_code == 201
    old, new = first.json(), second.json()
    assert old["api_key"].startswith("fpba_" + old["key_id"])
    for key in (old, new):
        assert (await api.get(url, {"X-Api-Key": key["api_key"]})).status_code == 200
    listed = (await api.get(f"{url}/api-keys", api.admin(inst["id"]))).json()["items"]
    assert {k["key_id"] for k in listed} == {old["key_id"], new["key_id"]}
    assert old["api_key"] not in str(listed) and "key_hash" not in str(listed)  # shown only once

    assert (await api.delete(f"{url}/api-keys/{old['key_id']}", api.admin(inst["id"]))).status_code == 204
    assert (await api.get(url, {"X-Api-Key": old["api_key"]})).status_code == 401
    assert (await api.get(url, {"X-Api-Key": new["api_key"]})).status_code == 200

    issued = await topic.wait_for_events(2, where=lambda e: e.type == "fpba.api_key.issued.v1")
    [revoked] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.api_key.revoked.v1")
    for event in (*issued, revoked):
        valid(event)
    by_id = {e.data["key_id"]: e.data for e in issued}
    assert by_id[old["key_id"]]["key_hash"] == hash_api_key(old["api_key"])
    assert (
        PiiVault(api.settings.pii_encryption_key).open(by_id[new["key_id"]]["sealed_key"]) == new["api_key"]
    )
    assert revoked.data["key_id"] == old["key_id"]


async def test_a_key_reads_only_its_own_institution_and_manages_nothing(api, make):
    mine = await api.institution(make.uscc())
    other = await api.institution(make.uscc())
    key = (await api.post(f"/api/v1/institutions/{mine['id']}/api-keys", api.secretariat)).json()["api_key"]
    machine = {"X-Api-Key": key}
    assert (await api.get(f"/api/v1/institutions/{other['id']}", machine)).status_code == 403
    assert (await api.get(f"/api/v1/institutions/{other['id']}/organizations", machine)).status_code == 403
    assert (await api.post(f"/api/v1/institutions/{mine['id']}/api-keys", machine)).status_code == 403
    assert (
        await api.patch(f"/api/v1/institutions/{mine['id']}", machine, json={"reporting_level": "L3"})
    ).status_code == 403
    listed = await api.get("/api/v1/institutions", machine)
    assert [i["id"] for i in listed.json()["items"]] == [mine["id"]]
    denied = await api.app.state.registry.store.find("audit", {"outcome": "denied", "actor_key_id": {"$ne": None}})
    assert len(denied) >= 3  # a machine touching another institution's data is audited


async def test_another_tenant_cannot_issue_list_or_revoke_keys(api, make):
    mine = await api.institution(make.uscc())
    other = await api.institution(make.uscc())
    key = (await api.post(f"/api/v1/institutions/{mine['id']}/api-keys", api.secretariat)).json()
    intruder = api.admin(other["id"])
    url = f"/api/v1/institutions/{mine['id']}/api-keys"
    assert (await api.post(url, intruder)).status_code == 403
    assert (await api.get(url, intruder)).status_code == 403
    assert (await api.delete(f"{url}/{key['key_id']}", intruder)).status_code == 403
    assert (
        await api.get(f"/api/v1/institutions/{mine['id']}", {"X-Api-Key": key["api_key"]})
    ).status_code == 200


async def test_active_keys_are_capped_so_old_ones_get_revoked(api, make):
    inst = await api.institution(make.uscc())
    url = f"/api/v1/institutions/{inst['id']}/api-keys"
    for _ in range(api.settings.max_active_api_keys):
        assert (await api.post(url, api.secretariat)).status_code == 201
    over = await api.post(url, api.secretariat)
    assert over.status_code == 409 and over.json()["error"]["code"] == "too_many_active_keys"


async def test_issuing_and_revoking_a_key_are_audited_with_who_and_where_and_announced_for_the_trail(
    api, topic, make, valid
):
    inst = await api.institution(make.uscc())
    url = f"/api/v1/institutions/{inst['id']}/api-keys"
    key = (await api.post(url, api.admin(inst["id"]), json={"label": "OA 系统"})).json()
    assert (await api.delete(f"{url}/{key['key_id']}", api.secretariat)).status_code == 204
    assert (await api.delete(f"{url}/{key['key_id']}", api.secretariat)).status_code == 204  # nothing more
    stored = await api.app.state.registry.store.find("audit", {"object_id": key["key_id"]})
    assert sorted((a["action"], a["actor_role"], a["institution_id"], a["ip"]) for a in stored) == [
        ("api_key.issued", "institution_admin", inst["id"], "127.0.0.1"),
        ("api_key.revoked", "secretariat", inst["id"], "127.0.0.1"),
    ]
    assert key["api_key"] not in str(stored)
    told = await topic.wait_for_events(
        2, where=lambda e: e.type == "fpba.registry_action.audited.v1" and e.data["object_id"] == key["key_id"]
    )
    for event in told:
        valid(event)
    assert sorted(e.data["action"] for e in told) == ["api_key.issued", "api_key.revoked"]
    assert {e.data["audit_id"] for e in told} == {a["_id"] for a in stored}
