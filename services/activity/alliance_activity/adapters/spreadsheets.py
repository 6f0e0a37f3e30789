"""XLSX and CSV files of the L1 channel: the downloadable templates (openpyxl, with an example row
and drop-down validation), and uploaded rows (read by `alliance_shared.spreadsheets`) mapped to the
template's columns."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from alliance_shared.contracts.vocabulary import MEETING_KIND_ZH
from alliance_shared.errors import Invalid
from alliance_shared.spreadsheets import table_rows
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ..domain.sheets import Layout, match_headers

TEMPLATE_ROWS = 5000


def template(layout: Layout) -> bytes:
    """The template workbook of one kind: headers, one example row, drop-down lists, a help sheet."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "填报"
    ws.append([c.header + ("*" if c.required else "") for c in layout.columns])
    ws.append([c.example for c in layout.columns])
    header_fill = PatternFill("solid", fgColor="C00000")
    for i, column in enumerate(layout.columns, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = header_fill
        ws.column_dimensions[get_column_letter(i)].width = max(14, len(column.header) * 2 + 4)
        example = ws.cell(row=2, column=i)
        example.font = Font(italic=True, color="808080")
        if column.kind == "datetime":
            example.number_format = "yyyy-mm-dd hh:mm"
        elif column.kind == "date":
            example.number_format = "yyyy-mm-dd"
        if column.kind == "meeting_kind":
            letter = get_column_letter(i)
            rule = DataValidation(
                type="list",
                formula1='"' + ",".join(MEETING_KIND_ZH.values()) + '"',
                allow_blank=False,
                showErrorMessage=True,
                errorTitle="会议类型 / meeting kind",
                error="请从下拉列表中选择 / choose from the list",
            )
            rule.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
            ws.add_data_validation(rule)
    ws.freeze_panes = "A2"
    help_sheet = wb.create_sheet("说明")
    help_sheet.append(["列 / column", "字段 / field", "必填 / required", "说明 / notes"])
    for column in layout.columns:
        help_sheet.append([column.header, column.key, "是" if column.required else "否", column.help])
    help_sheet.append([])
    help_sheet.append(["第 2 行为示例,事件编号以“示例”开头的行不会导入 / row 2 is an example and is skipped"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def read_rows(layout: Layout, filename: str, content: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, column key → value) for every non-empty data row of an XLSX or CSV file."""
    rows = table_rows(filename, content)
    try:
        _, headers = next(rows)
    except StopIteration:
        raise Invalid("文件为空 / the file is empty", field="file") from None
    columns = match_headers(layout, headers)
    if not columns:
        raise Invalid(
            "未找到模板表头,请使用下载的模板 / no template headers found; use the downloaded template",
            field="file",
        )
    for number, values in rows:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        yield number, {col.key: values[i] for i, col in columns.items() if i < len(values)}
