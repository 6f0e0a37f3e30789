"""Bulk import: Chinese headers, XLSX or CSV (UTF-8 with BOM, GBK), a per-row report, valid rows
kept, and a re-import of the same file changing nothing."""

import asyncio
import io
import logging

import pytest
from openpyxl import Workbook

pytestmark = pytest.mark.integration


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    return "\n".join(",".join(r) for r in rows).encode(encoding)


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


async def upload(api, kind: str, content: bytes, filename: str, headers=None):
    return await api.post(
        "/api/v1/imports",
        headers or api.secretariat,
        data={"kind": kind},
        files={"file": (filename, content)},
    )


async def test_an_institution_file_with_good_and_bad_rows_keeps_the_good_and_reports_the_bad(
    api, topic, make
):
    good1, good2 = make.uscc(), make.uscc()
    content = csv_bytes(
        [
            ["统一社会信用代码", "机构名称", "所有制", "行业", "党组织状态", "上报级别"],
            [good1, "深圳甲银行", "国有", "银行", "已建立党组织且工作完善", "L2"],
            [make.wrong_check(make.uscc()), "乙保险", "民营", "保险", "不够完善", "L1"],
            [make.uscc(), "丙基金", "外资", "基金", "不够完善", "L1"],
            [make.uscc(), "", "民营", "信托", "不够完善", "L1"],
            [good2, "丁科技", "新兴金融机构", "金融科技", "尚未建立", "批量"],
        ],
        "gbk",
    )
    r = await upload(api, "institutions", content, "机构.csv")
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["created"], report["unchanged"]) == (5, 2, 0)
    assert [(x["row"], x["field"]) for x in report["rejected"]] == [
        (3, "统一社会信用代码"),
        (4, "所有制"),
        (5, "机构名称"),
    ]
    assert all(x["reason"] for x in report["rejected"])
    listed = (await api.get("/api/v1/institutions", api.secretariat)).json()
    assert {i["uscc"]: i["ownership"] for i in listed["items"]} == {good1: "state_owned", good2: "emerging"}
    await topic.wait_for_events(2, where=lambda e: e.type == "fpba.institution.registered.v1")

    again = (await upload(api, "institutions", content, "机构.csv")).json()
    assert (again["created"], again["unchanged"], len(again["rejected"])) == (0, 2, 3)
    await asyncio.sleep(1.5)  # a relay pass or two: nothing new may appear
    assert len([e for e in topic.events() if e.type == "fpba.institution.registered.v1"]) == 2
    assert (await api.get("/api/v1/institutions", api.secretariat)).json()["total"] == 2


async def test_organisations_and_members_import_from_xlsx_and_bom_csv_idempotently(api, topic, make, caplog):
    caplog.set_level(logging.DEBUG)
    a, b = make.uscc(), make.uscc()
    await api.institution(a)
    await api.institution(b)
    orgs = xlsx_bytes(
        [
            ["组织名称", "类型", "所属机构", "上级组织", "成立日期", "书记姓名", "书记手机", "书记邮箱"],
            ["党委", "党委", a, None, "2010-07-01", "王书记", 13900000001, "wang@a.cn"],
            ["第一党支部", "党支部", a, "党委", "2019/7/1", "李书记", "13900000002", None],
            ["联合党支部", "联合党支部", f"{a}、{b}", None, None, None, None, None],
            ["第二党支部", "党支部", a, "不存在的党委", None, None, None, None],
            ["第三党支部", "党支部", a, None, None, "赵书记", "12345", None],
        ]
    )
    report = (await upload(api, "organizations", orgs, "组织.xlsx")).json()
    assert (report["created"], report["unchanged"]) == (3, 0)
    assert [(x["row"], x["field"]) for x in report["rejected"]] == [(5, "上级组织"), (6, "书记手机")]
    assert (await upload(api, "organizations", orgs, "组织.xlsx")).json()["unchanged"] == 3

    good, bad = make.id_number(), make.wrong_check(make.id_number())
    members = (
        "\ufeff"
        + "\n".join(
            [
                "姓名,身份证号,手机,所在组织,政治面貌,入党日期",
                f"张三,{good},13812345678,第一党支部,中共党员,2015-07-01",
                f"李四,{bad},13812345679,第一党支部,预备党员,2026-01-01",
                f"王五,{make.id_number()},,不存在的支部,正式党员,2015-07-01",
                f"赵六,{make.id_number()},,联合党支部,发展对象,",
            ]
        )
    ).encode("utf-8")
    r = await upload(api, "members", members, "党员.csv")
    report = r.json()
    assert (report["created"], report["unchanged"]) == (2, 0)
    assert [(x["row"], x["field"]) for x in report["rejected"]] == [(3, "身份证号"), (4, "所在组织")]
    assert good not in r.text and bad not in r.text
    again = (await upload(api, "members", members, "党员.csv")).json()
    assert (again["created"], again["unchanged"]) == (0, 2)
    await topic.wait_for_events(2, where=lambda e: e.type == "fpba.member.registered.v1")
    await asyncio.sleep(1.0)
    assert len([e for e in topic.events() if e.type == "fpba.member.registered.v1"]) == 2
    assert good not in caplog.text and bad not in caplog.text


async def test_an_institution_file_carries_its_contact_sealed_and_its_level_in_the_events(api, topic, make):
    """The contact columns (联系人 …) are read, sealed and masked as the API seals them; a bad phone
    refuses its row only; the events carry the institution's reporting level."""
    good, bad = make.uscc(), make.uscc()
    content = csv_bytes(
        [
            ["统一社会信用代码", "机构名称", "所有制", "党组织状态", "上报级别", "联系人", "联系人手机", "联系人邮箱"],
            [good, "深圳戊银行", "国有", "已建立党组织且工作完善", "L3", "钱主任", "13912345678", "qian@wu.cn"],
            [bad, "己证券", "民营", "不够完善", "L1", "孙主任", "12345", ""],
        ],
        "utf-8",
    )
    report = (await upload(api, "institutions", content, "机构.csv")).json()
    assert report["created"] == 1
    assert [(x["row"], x["field"]) for x in report["rejected"]] == [(3, "联系人手机")]
    [item] = (await api.get("/api/v1/institutions", api.secretariat, params={"uscc": good})).json()["items"]
    assert item["contact"] == {"name": "钱主任", "phone": "139****5678", "email": "q***@wu.cn"}
    [registered] = await topic.wait_for_events(
        1, where=lambda e: e.type == "fpba.institution.registered.v1" and e.data["uscc"] == good
    )
    assert registered.reportinglevel == "L3" and "13912345678" not in str(registered.data)


async def test_a_bad_kind_or_a_missing_column_is_a_clear_422(api):
    r = await upload(api, "meetings", b"a,b\n1,2\n", "x.csv")
    assert r.status_code == 422 and r.json()["error"]["field"] == "kind"
    r = await upload(api, "members", "姓名,手机\n张三,13800000000\n".encode(), "x.csv")
    assert r.status_code == 422 and r.json()["error"]["field"] == "身份证号"


async def test_only_the_secretariat_imports_institutions_and_an_admin_only_into_its_own(api, make):
    mine, other = await api.institution(make.uscc()), await api.institution(make.uscc())
    await api.organization(other["id"], "他行支部")
    key = (await api.post(f"/api/v1/institutions/{mine['id']}/api-keys", api.secretariat)).json()["api_key"]
    institutions = csv_bytes(
        [
            ["统一社会信用代码", "机构名称", "所有制", "党组织状态", "上报级别"],
            [make.uscc(), "x", "民营", "不够完善", "L1"],
        ],
        "utf-8",
    )
    assert (
        await upload(api, "institutions", institutions, "i.csv", api.admin(mine["id"]))
    ).status_code == 403
    assert (await upload(api, "members", b"x", "m.csv", {"X-Api-Key": key})).status_code == 403
    assert (await upload(api, "members", b"x", "m.csv", api.token("evaluator"))).status_code == 403
    orgs = csv_bytes([["组织名称", "类型", "所属机构"], ["渗透支部", "党支部", other["uscc"]]], "utf-8")
    report = (await upload(api, "organizations", orgs, "o.csv", api.admin(mine["id"]))).json()
    assert report["created"] == 0 and report["rejected"][0]["field"] == "所属机构"
    members = csv_bytes(
        [["姓名", "身份证号", "所在组织", "政治面貌"], ["x", make.id_number(), "他行支部", "正式党员"]],
        "utf-8",
    )
    report = (await upload(api, "members", members, "m.csv", api.admin(mine["id"]))).json()
    assert report["created"] == 0 and report["rejected"][0]["field"] == "所在组织"


async def test_a_member_file_names_its_branch_by_name_and_institution_when_the_name_is_shared(api, make):
    """The import resolves a branch as the store query did: by name, narrowed by 所属机构 (a USCC or
    an institution's exact name); a name two institutions use needs 所属机构."""
    a, b = make.uscc(), make.uscc()
    a_id = (await api.institution(a))["id"]
    b_doc = await api.institution(b)
    b_name, b_id = b_doc["name"], b_doc["id"]
    orgs = xlsx_bytes(
        [
            ["组织名称", "类型", "所属机构"],
            ["同名党支部", "党支部", a],
            ["同名党支部", "党支部", b],
        ]
    )
    assert (await upload(api, "organizations", orgs, "组织.xlsx")).json()["created"] == 2
    shared, by_uscc, by_name = make.id_number(), make.id_number(), make.id_number()
    members = "\n".join(
        [
            "姓名,身份证号,所在组织,所属机构,政治面貌",
            f"甲,{shared},同名党支部,,正式党员",
            f"乙,{by_uscc},同名党支部,{a},正式党员",
            f"丙,{by_name},同名党支部,{b_name},正式党员",
            f"丁,{make.id_number()},同名党支部,不存在的机构,正式党员",
        ]
    ).encode("utf-8")
    report = (await upload(api, "members", members, "党员.csv")).json()
    assert report["created"] == 2
    assert [(x["row"], x["field"]) for x in report["rejected"]] == [(2, "所在组织"), (5, "所属机构")]
    assert "不唯一" in report["rejected"][0]["reason"]
    for inst_id, name in ((a_id, "乙"), (b_id, "丙")):  # each into its own institution's branch
        branch = (await api.client.get(f"/api/v1/institutions/{inst_id}/organizations", headers=api.secretariat)).json()
        branch_id = branch["items"][0]["id"]
        roll = await api.client.get(f"/api/v1/organizations/{branch_id}/members", headers=api.secretariat)
        assert [m["name"] for m in roll.json()["items"]] == [name]


async def test_an_organisation_tree_imports_in_any_row_order_and_twice_at_once_opens_each_once(api, topic, make):
    """A chunk opens in waves (parents, then their children), so a branch may name a parent on a
    row below it; two uploads of the same tree at once open each organisation once, and every
    child hangs under the parent that was stored."""
    uscc = make.uscc()
    inst_id = (await api.institution(uscc))["id"]
    rows = [["组织名称", "类型", "所属机构", "上级组织"]]
    rows += [[f"第{n}党支部", "党支部", uscc, "机关党总支"] for n in range(1, 6)]
    rows += [["机关党总支", "党总支", uscc, "党委"], ["党委", "党委", uscc, None]]
    orgs = xlsx_bytes(rows)
    first, second = await asyncio.gather(
        upload(api, "organizations", orgs, "组织.xlsx"), upload(api, "organizations", orgs, "组织.xlsx")
    )
    reports = [first.json(), second.json()]
    assert [r["rejected"] for r in reports] == [[], []]
    assert sum(r["created"] for r in reports) == 7 and sum(r["unchanged"] for r in reports) == 7
    tree = (await api.client.get(f"/api/v1/institutions/{inst_id}/organizations", headers=api.secretariat)).json()
    listing, todo = [], list(tree["items"])
    while todo:
        node = todo.pop()
        listing.append(node)
        todo += node.get("children", [])
    by_name = {o["name"]: o for o in listing}
    assert len(listing) == 7 == len(by_name)
    assert by_name["党委"]["parent_id"] is None
    assert by_name["机关党总支"]["parent_id"] == by_name["党委"]["id"]
    assert {by_name[f"第{n}党支部"]["parent_id"] for n in range(1, 6)} == {by_name["机关党总支"]["id"]}
    opened = await topic.wait_for_events(
        7, where=lambda e: e.type == "fpba.organization.opened.v1" and e.data["institution_id"] == inst_id
    )
    assert {e.data["organization_id"] for e in opened} == {o["id"] for o in listing}
