import io
from datetime import date, datetime

import pytest
from alliance_registry.adapters.spreadsheets import read_sheet
from alliance_registry.domain.imports import ImportKind, RowError, map_headers, read_row, split_list
from alliance_shared.errors import Invalid
from openpyxl import Workbook

pytestmark = pytest.mark.unit

INSTITUTION_HEADERS = ["统一社会信用代码", "机构名称", "所有制", "行业", "党组织状态", "上报级别"]


def test_chinese_headers_and_chinese_values_become_codes():
    cols = map_headers(ImportKind.INSTITUTIONS, [*INSTITUTION_HEADERS, "备注"])
    row = read_row(
        cols,
        {
            "统一社会信用代码": "91110000600037341L",
            "机构名称": "甲银行",
            "所有制": "国有",
            "行业": "银行",
            "党组织状态": "已建立党组织且工作完善",
            "上报级别": "批量",
        },
    )
    assert row["ownership"] == "state_owned"
    assert row["party_org_status"] == "established_complete"
    assert row["reporting_level"] == "L2"


def test_code_values_and_code_headers_work_as_well():
    cols = map_headers(
        ImportKind.INSTITUTIONS, ["uscc", "name", "ownership", "party_org_status", "reporting_level"]
    )
    row = read_row(
        cols,
        {
            "uscc": "x",
            "name": "n",
            "ownership": "EMERGING",
            "party_org_status": "not_established_incapable",
            "reporting_level": "l3",
        },
    )
    assert (row["ownership"], row["reporting_level"]) == ("emerging", "L3")


def test_an_unknown_value_names_its_column_and_the_allowed_values():
    cols = map_headers(ImportKind.INSTITUTIONS, INSTITUTION_HEADERS)
    with pytest.raises(RowError) as err:
        read_row(
            cols,
            {
                "统一社会信用代码": "x",
                "机构名称": "n",
                "所有制": "外资",
                "党组织状态": "不够完善",
                "上报级别": "L1",
            },
        )
    assert err.value.field == "所有制"
    assert "国有" in err.value.reason and "state_owned" in err.value.reason


def test_a_missing_required_column_is_named():
    with pytest.raises(RowError) as err:
        map_headers(ImportKind.MEMBERS, ["姓名", "手机", "所在组织", "政治面貌"])
    assert err.value.field == "身份证号"


def test_an_empty_required_cell_is_reported_on_its_column():
    cols = map_headers(ImportKind.MEMBERS, ["姓名", "身份证号", "所在组织", "政治面貌", "入党日期"])
    with pytest.raises(RowError) as err:
        read_row(cols, {"姓名": "张三", "身份证号": "", "所在组织": "第一支部", "政治面貌": "正式党员"})
    assert err.value.field == "身份证号"


@pytest.mark.parametrize(
    "raw", ["2019-07-01", "2019/7/1", "2019年7月1日", "20190701", datetime(2019, 7, 1, 0, 0)]
)
def test_dates_are_read_in_the_usual_chinese_spreadsheet_forms(raw):
    cols = map_headers(ImportKind.ORGANIZATIONS, ["组织名称", "类型", "所属机构", "成立日期"])
    row = read_row(cols, {"组织名称": "第一支部", "类型": "党支部", "所属机构": "x", "成立日期": raw})
    assert row["established_at"] == date(2019, 7, 1)
    assert row["kind"] == "branch"


def test_several_institutions_of_a_joint_branch_split_on_chinese_separators():
    assert split_list("A、B，C; D") == ["A", "B", "C", "D"]


def test_a_gbk_csv_and_a_utf8_bom_csv_read_the_same():
    text = "姓名,身份证号\n张三,11010519491231002X\n\n李四,x\n"
    for content in (text.encode("gbk"), b"\xef\xbb\xbf" + text.encode("utf-8")):
        sheet = read_sheet(content, "members.csv")
        assert sheet.headers == ["姓名", "身份证号"]
        assert [(n, r["姓名"]) for n, r in sheet.rows] == [(2, "张三"), (4, "李四")]


def test_an_xlsx_is_read_with_its_row_numbers_and_numeric_phones_as_digits():
    book = Workbook()
    book.active.append(["姓名", "手机"])
    book.active.append(["张三", 13812345678])
    buf = io.BytesIO()
    book.save(buf)
    sheet = read_sheet(buf.getvalue(), "m.xlsx")
    cols = map_headers(ImportKind.MEMBERS, ["姓名", "身份证号", "手机", "所在组织", "政治面貌"])
    row = read_row(cols, {**sheet.rows[0][1], "身份证号": "1", "所在组织": "o", "政治面貌": "预备党员"})
    assert sheet.rows[0][0] == 2 and row["phone"] == "13812345678" and row["status"] == "probationary"


def test_a_damaged_workbook_is_a_clear_422_on_the_file():
    with pytest.raises(Invalid) as err:
        read_sheet(b"PK\x03\x04 not really a zip", "x.xlsx")
    assert err.value.field == "file"
