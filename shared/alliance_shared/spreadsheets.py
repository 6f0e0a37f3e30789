"""Reading what Chinese offices upload: XLSX workbooks and CSV files in UTF-8 (with or without a
BOM) or GBK, as numbered rows of cells. Services map the rows to their own columns."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from typing import Any

from .errors import Invalid


def is_xlsx(filename: str, content: bytes) -> bool:
    """A zip container (every XLSX is one) or a name that says so."""
    return content[:2] == b"PK" or filename.lower().endswith((".xlsx", ".xlsm"))


def table_rows(filename: str, content: bytes) -> Iterator[tuple[int, list[Any]]]:
    """(row number as the user sees it, cells) for every row of the first sheet or of the CSV.

    Raises `Invalid` on field ``file`` when the workbook cannot be read or the encoding is unknown."""
    if is_xlsx(filename, content):
        yield from _xlsx_rows(content)
    else:
        text = decode_text(content)
        for number, values in enumerate(csv.reader(io.StringIO(text)), start=1):
            yield number, list(values)


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise Invalid("无法读取 XLSX 文件 / not a readable XLSX workbook", field="file") from None
    try:
        for number, values in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
            yield number, list(values)
    finally:
        book.close()


def decode_text(content: bytes) -> str:
    """UTF-8 (with or without BOM) first; files saved by Chinese Excel are usually GBK (GB 18030)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("无法识别文件编码(应为 UTF-8 或 GBK) / encoding must be UTF-8 or GBK", field="file")
