"""An uploaded XLSX or CSV (read by `alliance_shared.spreadsheets`) as its header row and data rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alliance_shared.errors import Invalid
from alliance_shared.spreadsheets import table_rows

from ..domain.imports import cell_text


@dataclass(frozen=True)
class Sheet:
    headers: list[str]
    rows: list[tuple[int, dict[str, Any]]]  # (row number as the user sees it, header -> cell)


def read_sheet(content: bytes, filename: str = "", *, max_rows: int = 20_000) -> Sheet:
    headers: list[str] | None = None
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, values in table_rows(filename, content):
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
