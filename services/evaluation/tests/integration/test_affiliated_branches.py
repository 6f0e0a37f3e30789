"""An affiliated branch (挂靠党支部, 挂靠建 of 四(三)1): the members of one institution in a branch
attached to another organisation's committee, across institutions. It is scored with its own
institution and labelled by its kind there; the host's drill-down lists it under the host's
committee, with its kind and its own institution by name."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from alliance_shared.contracts import registry as reg
from alliance_shared.testing import at

pytestmark = pytest.mark.integration

Q3 = "2026-Q3"
HOST = "深圳市金融行业协会"
OWNER = "深圳丙融资担保有限公司"


async def opened(s: Any, org_id: str, inst_id: str, name: str, kind: str, parent_id: str | None = None) -> None:
    await s.publish(
        reg.OrganizationOpened(
            organization_id=org_id, institution_id=inst_id, institution_ids=[inst_id], name=name, kind=kind,
            parent_id=parent_id, established_at=date(2020, 1, 1),
        )
    )


@pytest.fixture(scope="module")
async def attached(service: Any) -> Any:
    s = service
    s.clock.set(at(2026, 10, 12))
    await s.institution("ah", "state_owned", "L2", name=HOST)
    await s.institution("ao", "private", "L1", name=OWNER)
    await opened(s, "ah-c", "ah", "中共深圳市金融行业协会委员会", "committee")
    await opened(s, "ah-b", "ah", "协会机关党支部", "branch", "ah-c")
    await opened(s, "ao-a", "ao", "深圳丙融资担保有限公司党支部（挂靠协会党委）", "affiliated_branch", "ah-c")
    await s.member("am1", "ah-b", "ah")
    await s.member("am2", "ao-a", "ao")
    await s.meeting("ao-a", "ao", "theme_party_day", at(2026, 8, 5), ["am2"], 1, at(2026, 8, 6))
    await s.settle()
    return s


async def test_the_affiliated_branch_is_scored_with_its_own_institution_and_labelled_by_its_kind(attached: Any) -> None:
    s = attached
    card = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/ao", headers=s.token())).json()
    assert [(b["id"], b["kind"]) for b in card["branches"]] == [("ao-a", "affiliated_branch")]
    host = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/ah", headers=s.token())).json()
    assert [b["id"] for b in host["branches"]] == ["ah-b"]  # not scored twice


async def test_the_hosts_drill_down_lists_the_branch_attached_to_its_committee(attached: Any) -> None:
    s = attached
    r = await s.client.get("/api/v1/dashboard/attached-branches", params={"period": Q3, "institution_id": "ah"},
                           headers=s.token())
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    assert item["organization_id"] == "ao-a" and item["kind"] == "affiliated_branch"
    assert item["parent_id"] == "ah-c" and item["parent_name"] == "中共深圳市金融行业协会委员会"
    assert item["institutions"] == [{"id": "ao", "name": OWNER}]
    assert item["grade"] is not None  # the secretariat sees how it scored with its own institution
    own = await s.client.get("/api/v1/dashboard/attached-branches", params={"period": Q3, "institution_id": "ao"},
                             headers=s.token())
    assert own.json()["items"] == []  # its own institution lists it among its branches, not as attached


async def test_the_hosts_admin_sees_the_attached_branch_without_its_score_and_no_one_elses_list(attached: Any) -> None:
    s = attached
    host_admin = s.token("institution_admin", institution_id="ah", subject="adm-ah")
    r = await s.client.get("/api/v1/dashboard/attached-branches", params={"period": Q3, "institution_id": "ah"},
                           headers=host_admin)
    [item] = r.json()["items"]
    assert item["name"] == "深圳丙融资担保有限公司党支部（挂靠协会党委）"
    assert "score" not in item and "grade" not in item
    other = await s.client.get("/api/v1/dashboard/attached-branches", params={"period": Q3, "institution_id": "ah"},
                               headers=s.token("institution_admin", institution_id="ao", subject="adm-ao"))
    assert other.status_code == 403
