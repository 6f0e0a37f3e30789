"""Any dashboard table as a one-sheet workbook: Chinese headers (with the English after them),
bold, frozen, columns wide enough to read."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from alliance_shared.clock import SHANGHAI
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter


def table_workbook(title: str, sheet: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet[:31]
    ws.append(list(headers))
    for row in rows:
        ws.append([_cell(v) for v in row])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for n, h in enumerate(headers, 1):
        ws.column_dimensions[get_column_letter(n)].width = max(10, min(40, len(str(h)) + 4))
    wb.properties.title = title
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, datetime):  # Excel has no time zones: shown in Asia/Shanghai
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return value
