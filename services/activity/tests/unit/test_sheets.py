"""L1 spreadsheets: templates, reading XLSX and CSV (UTF-8 and GBK), rows into raw events."""

from __future__ import annotations

import io

import pytest
from alliance_activity.adapters.spreadsheets import read_rows, template
from alliance_activity.domain.sheets import LAYOUTS, is_example, to_submitted
from alliance_shared.errors import Invalid
from openpyxl import load_workbook

pytestmark = pytest.mark.unit
MEETING = LAYOUTS["meeting"]


def rows(content: bytes, name: str = "x.csv"):  # type: ignore[no-untyped-def]
    return list(read_rows(MEETING, name, content))


def test_the_meeting_template_has_chinese_headers_an_example_and_a_kind_drop_down() -> None:
    wb = load_workbook(io.BytesIO(template(MEETING)))
    ws = wb["填报"]
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["事件编号", "党组织编号*", "会议类型*"]
    assert str(ws["A2"].value).startswith("示例")
    [rule] = ws.data_validations.dataValidation
    assert rule.type == "list" and "支部党员大会" in rule.formula1 and "C2" in str(rule.sqref)


def test_the_template_round_trips_and_its_example_row_is_skipped() -> None:
    parsed = list(read_rows(MEETING, "meeting.xlsx", template(MEETING)))
    assert len(parsed) == 1 and is_example(parsed[0][1])


def test_a_gbk_csv_with_chinese_headers_becomes_a_meeting() -> None:
    text = (
        "党组织编号,会议类型,召开时间,参会党员编号,应到人数,会议主题\n"
        "org-a,支部委员会,2026/10/12 9:00,m-1、m-2,2,学习\n"
    )
    [(row, values)] = rows(text.encode("gbk"))
    item = to_submitted(MEETING, values, institution_id="inst-a", source="/t", row=row, label="row 2")
    assert item.error is None and isinstance(item.raw, dict)
    assert item.raw["data"] == {
        "organization_id": "org-a",
        "meeting_kind": "branch_committee_meeting",
        "held_at": "2026-10-12T09:00:00+08:00",
        "attendee_ids": ["m-1", "m-2"],
        "expected_count": 2,
        "topic": "学习",
    }


def test_a_row_without_an_id_gets_the_same_id_each_time() -> None:
    values = {
        "organization_id": "org-a",
        "meeting_kind": "党课",
        "held_at": "2026-10-12 09:00",
        "expected_count": "3",
    }
    a = to_submitted(MEETING, values, institution_id="inst-a", source="/t", row=2, label="row 2")
    b = to_submitted(MEETING, values, institution_id="inst-a", source="/t", row=9, label="row 9")
    assert isinstance(a.raw, dict) and isinstance(b.raw, dict) and a.raw["id"] == b.raw["id"]


def test_a_bad_cell_is_reported_by_its_chinese_header() -> None:
    values = {
        "organization_id": "org-a",
        "meeting_kind": "野餐",
        "held_at": "2026-10-12 09:00",
        "expected_count": "3",
    }
    item = to_submitted(MEETING, values, institution_id="inst-a", source="/t", row=2, label="row 2")
    assert item.error is not None and item.error.field == "会议类型"


def test_a_file_without_template_headers_is_refused_with_the_field() -> None:
    with pytest.raises(Invalid) as caught:
        rows(b"a,b\n1,2\n")
    assert caught.value.field == "file"
