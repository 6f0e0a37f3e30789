"""Uploaded spreadsheets as Chinese offices send them."""

import io

import pytest
from alliance_shared.errors import Invalid
from alliance_shared.spreadsheets import decode_text, table_rows
from openpyxl import Workbook

pytestmark = pytest.mark.unit
CSV = "组织名称,会议类型\n第一党支部,党课\n"


@pytest.mark.parametrize("encoded", [CSV.encode("gbk"), CSV.encode("utf-8"), "\ufeff".encode() + CSV.encode()])
def test_csv_in_gbk_utf8_or_utf8_with_bom_reads_the_same(encoded):
    assert list(table_rows("x.csv", encoded)) == [(1, ["组织名称", "会议类型"]), (2, ["第一党支部", "党课"])]


def test_xlsx_rows_are_numbered_as_the_user_sees_them():
    wb = Workbook()
    wb.active.append(["组织名称", "人数"])
    wb.active.append(["第二党支部", 12])
    out = io.BytesIO()
    wb.save(out)
    assert list(table_rows("upload.bin", out.getvalue())) == [(1, ["组织名称", "人数"]), (2, ["第二党支部", 12])]


def test_a_broken_workbook_or_an_unknown_encoding_is_invalid_on_the_file_field():
    with pytest.raises(Invalid) as err:
        list(table_rows("broken.xlsx", b"PK\x03\x04 not really a zip"))
    assert err.value.field == "file"
    with pytest.raises(Invalid):
        decode_text(b"\xff\xfe\xfa\xfb\x80")
