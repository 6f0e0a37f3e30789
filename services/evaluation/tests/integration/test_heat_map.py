"""The heat map of organisational-life meetings: the chosen quarter's three months by default, the
12 months ending with it on the switch; each branch with its whole name, its kind and its
institutions by name (a joint branch names each it covers); heatmap.xlsx holds the same rows, with
names where the ids used to be."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from alliance_shared.contracts import registry as reg
from alliance_shared.testing import at
from openpyxl import load_workbook

pytestmark = pytest.mark.integration

Q3 = "2026-Q3"
LONG = "中共深圳甲银行股份有限公司零售金融事业部第三党支部委员会（含远程办公人员）"
H1 = "深圳甲银行股份有限公司"
H2 = "深圳乙证券有限责任公司"


@pytest.fixture(scope="module")
async def heat(service: Any) -> Any:
    s = service
    s.clock.set(at(2026, 10, 12))
    await s.institution("h1", "state_owned", "L2", name=H1)
    await s.institution("h2", "private", "L1", name=H2)
    await s.publish(
        reg.OrganizationOpened(
            organization_id="hb1", institution_id="h1", institution_ids=["h1"], name=LONG, kind="branch",
            established_at=date(2020, 1, 1),
        )
    )
    await s.branch("hj", ["h2", "h1"], kind="joint_branch")  # owned by h2, covers h1 too
    for n, org, inst in (("hm1", "hb1", "h1"), ("hm2", "hj", "h2")):
        await s.member(n, org, inst, since=date(2025, 1, 1))
    await s.meeting("hb1", "h1", "theme_party_day", at(2026, 5, 12), ["hm1"], 1, at(2026, 5, 13))  # Q2
    await s.meeting("hb1", "h1", "branch_committee_meeting", at(2026, 8, 7), ["hm1"], 1, at(2026, 8, 8))
    await s.meeting("hj", "h2", "theme_party_day", at(2026, 9, 15), ["hm2"], 1, at(2026, 9, 16))
    await s.settle()
    return s


async def rows(s: Any, **params: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    r = await s.client.get("/api/v1/dashboard/heatmap", params={"period": Q3, **params}, headers=s.token())
    assert r.status_code == 200, r.text
    body = r.json()
    return body, {i["organization_id"]: i for i in body["items"]}


async def test_the_heat_map_shows_the_chosen_quarters_three_months_by_default(heat: Any) -> None:
    body, by_org = await rows(heat)
    assert body["span"] == "quarter"
    assert body["months"] == ["2026-07", "2026-08", "2026-09"]
    assert by_org["hb1"]["counts"] == [0, 1, 0] and by_org["hj"]["counts"] == [0, 0, 1]
    assert by_org["hb1"]["last_meeting_on"] == "2026-08-07"


async def test_the_switch_shows_the_twelve_months_ending_with_the_quarter(heat: Any) -> None:
    body, by_org = await rows(heat, span="trailing_12")
    assert body["span"] == "trailing_12"
    assert body["months"][0] == "2025-10" and body["months"][-1] == "2026-09" and len(body["months"]) == 12
    counts = dict(zip(body["months"], by_org["hb1"]["counts"], strict=True))
    assert counts["2026-05"] == 1 and counts["2026-08"] == 1 and sum(counts.values()) == 2  # Q2's May from Q2's rows


async def test_an_unknown_span_is_refused_naming_the_field(heat: Any) -> None:
    r = await heat.client.get("/api/v1/dashboard/heatmap", params={"period": Q3, "span": "year"}, headers=heat.token())
    assert r.status_code == 422 and "span" in r.text


async def test_each_branch_comes_with_its_whole_name_its_kind_and_its_institutions_by_name(heat: Any) -> None:
    _, by_org = await rows(heat)
    assert by_org["hb1"]["name"] == LONG and by_org["hb1"]["kind"] == "branch"
    assert by_org["hb1"]["institution_name"] == H1
    assert by_org["hb1"]["institutions"] == [{"id": "h1", "name": H1}]
    assert by_org["hj"]["kind"] == "joint_branch"
    assert by_org["hj"]["institutions"] == [{"id": "h2", "name": H2}, {"id": "h1", "name": H1}]
    # an institution admin of h1 sees the joint branch it shares, named by both institutions
    admin = heat.token("institution_admin", institution_id="h1", subject="adm-h1")
    r = await heat.client.get("/api/v1/dashboard/heatmap", params={"period": Q3}, headers=admin)
    assert sorted(i["organization_id"] for i in r.json()["items"]) == ["hb1", "hj"]


async def export(s: Any, **params: Any) -> list[list[Any]]:
    r = await s.client.get("/api/v1/dashboard/exports/heatmap.xlsx", params={"period": Q3, **params}, headers=s.token())
    assert r.status_code == 200, r.text
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    return [[c.value for c in row] for row in ws.iter_rows()]


async def test_heatmap_xlsx_holds_names_and_the_quarters_months(heat: Any) -> None:
    sheet = await export(heat)
    head, body = sheet[0], {r[0]: r for r in sheet[1:]}
    assert head == [
        "支部编号 Branch ID", "支部 Branch", "组织类型 Kind", "机构 Institution",
        "2026年7月", "2026年8月", "2026年9月", "上次会议 Last meeting",
    ]  # fmt: skip
    assert body["hb1"] == ["hb1", LONG, "党支部", H1, 0, 1, 0, "2026-08-07"]
    assert body["hj"][1:4] == ["支部hj", "联合党支部", f"{H2}、{H1}"]
    institution = head.index("机构 Institution")
    assert not {r[institution] for r in sheet[1:]} & {"h1", "h2"}  # no raw id where a name belongs


async def test_heatmap_xlsx_follows_the_switch_to_twelve_months(heat: Any) -> None:
    sheet = await export(heat, span="trailing_12")
    assert sheet[0][4] == "2025年10月" and sheet[0][15] == "2026年9月" and sheet[0][16] == "上次会议 Last meeting"
    hb1 = next(r for r in sheet[1:] if r[0] == "hb1")
    assert hb1[4:16] == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0]
