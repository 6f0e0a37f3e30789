"""Reading an uploaded XLSX or CSV (UTF-8 with or without BOM, or GBK) into header + rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from alliance_shared.errors import Invalid

from ..domain.imports import cell_text


@dataclass(frozen=True)
class Sheet:
    headers: list[str]
    rows: list[tuple[int, dict[str, Any]]]  # (row number as the user sees it, header -> cell)


def read_sheet(content: bytes, filename: str = "", *, max_rows: int = 20_000) -> Sheet:
    if content[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm")):
        lines = _xlsx_lines(content)
    else:
        lines = _csv_lines(content)
    headers: list[str] | None = None
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, values in lines:
        if headers is None:
            if any(cell_text(v) for v in values):
                headers = [cell_text(v) for v in values]
            continue
        if not any(cell_text(v) for v in values):
            continue  # blank lines between data are no error
        if len(rows) >= max_rows:
            raise Invalid(f"文件行数超过上限 {max_rows} / more than {max_rows} rows", field="file")
        rows.append((number, {h: values[i] if i < len(values) else None for i, h in enumerate(headers) if h}))
    if headers is None:
        raise Invalid("文件为空或没有表头 / the file is empty or has no header row", field="file")
    return Sheet(headers, rows)


def _xlsx_lines(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged or foreign file
        raise Invalid("无法读取 XLSX 文件 / not a readable XLSX workbook", field="file") from None
    sheet = book.worksheets[0]
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield number, list(values)
    book.close()


def _csv_lines(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    text = _decode(content)
    for number, values in enumerate(csv.reader(io.StringIO(text)), start=1):
        yield number, list(values)


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("CSV 编码无法识别（请使用 UTF-8 或 GBK）/ CSV must be UTF-8 or GBK", field="file")
