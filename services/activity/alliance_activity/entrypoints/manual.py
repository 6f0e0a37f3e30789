"""L1 manual reporting: spreadsheet templates, uploads answered row by row, and (in `form`) the web
form for branches that have no system at all."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from alliance_shared.contracts.vocabulary import Channel
from alliance_shared.errors import DomainError, Invalid, NotFound, PayloadTooLarge
from alliance_shared.http import CurrentUser
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response, StreamingResponse

from ..adapters.spreadsheets import read_rows, template
from ..domain.filing import reporter_of
from ..domain.model import Reporter, Submitted
from ..domain.sheets import LAYOUTS, Layout, is_example, to_submitted
from ..usecases.unit import ActivityUnit
from . import form
from .deps import ActivityDep, row_answer
from .schemas import UploadAnswer

log = logging.getLogger(__name__)
router = APIRouter(tags=["manual"])
router.include_router(form.router)  # the web form of branches that have no system at all
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NDJSON = "application/x-ndjson"
PROGRESS_ROWS = 500


def _layout(kind: str) -> Layout:
    layout = LAYOUTS.get(kind)
    if layout is None:
        raise NotFound(f"没有该模板 / no template {kind!r}; kinds: {', '.join(LAYOUTS)}", field="kind")
    return layout


@router.get("/api/v1/templates/{kind}.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "填报模板 / the template"}})
async def get_template(kind: str) -> Response:
    return Response(
        template(_layout(kind)),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{kind}.xlsx"'},
    )


UPLOAD_ANSWER = {
    "model": UploadAnswer, "content": {"application/x-ndjson": {}},
    "description": "各行结果；Accept: application/x-ndjson 时逐行流式给出进度 / each row's answer; "
                   "streamed as progress lines with Accept: application/x-ndjson",
}  # fmt: skip


@router.post("/api/v1/uploads", response_model=None, responses={200: UPLOAD_ANSWER})
async def upload(
    request: Request, user: CurrentUser, service: ActivityDep, file: UploadFile = File(...), kind: str = Form(...)
) -> dict[str, Any] | StreamingResponse:
    """An XLSX or CSV (UTF-8 or GBK) of one kind; good rows are kept, bad ones answered with reasons.
    With `Accept: application/x-ndjson` the answer is streamed: a line per `PROGRESS_ROWS` rows read
    (`{"phase": "reading", "rows": n}`), one per phase of the ingestion (`read`, `checked`,
    `stored`, `published`), and last `{"result": ...}` (the answer above) or `{"error": ...}`."""
    reporter = reporter_of(user)
    layout = _layout(kind)
    limit = service.settings.upload_max_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge(f"文件不能超过 {limit // 1024 // 1024} MB / file too large", field="file")
    rows = _RowReader(service, layout, reporter, file.filename or "", content)
    if NDJSON in request.headers.get("accept", ""):
        return StreamingResponse(_streamed(service, rows, reporter, file.filename or None), media_type=NDJSON)
    for _ in rows:
        pass
    report = await service.ingest(rows.checked_items(), Channel.UPLOAD, reporter, file_name=file.filename or None)
    return {**row_answer(report), "upload_id": report.batch_id}


class _RowReader:
    """The file's rows as submitted items, read lazily: iterating yields the count read so far
    every `PROGRESS_ROWS` rows."""

    def __init__(
        self, service: ActivityUnit, layout: Layout, reporter: Reporter, filename: str, content: bytes
    ) -> None:
        self._service, self._layout, self._reporter = service, layout, reporter
        self._filename, self._content = filename, content
        self.items: list[Submitted] = []

    def __iter__(self) -> Iterator[int]:
        institution = self._reporter.institution_id or ""
        max_rows = self._service.settings.upload_max_rows
        for number, values in read_rows(self._layout, self._filename, self._content):
            if is_example(values):
                continue
            if len(self.items) >= max_rows:
                raise PayloadTooLarge(f"每个文件最多 {max_rows} 行 / too many rows", field="file")
            self.items.append(
                to_submitted(
                    self._layout,
                    values,
                    institution_id=institution,
                    source=f"/institutions/{institution}/uploads",
                    row=number,
                    label=f"row {number}",
                )
            )
            if len(self.items) % PROGRESS_ROWS == 0:
                yield len(self.items)

    def checked_items(self) -> list[Submitted]:
        if not self.items:
            raise Invalid("文件中没有数据行 / the file has no data rows", field="file")
        return self.items


async def _streamed(
    service: ActivityUnit, rows: _RowReader, reporter: Reporter, file_name: str | None
) -> AsyncIterator[bytes]:
    try:
        for count in rows:
            yield _line({"phase": "reading", "rows": count})
            await asyncio.sleep(0)  # let the line go out before the next rows are parsed
        items = rows.checked_items()
    except DomainError as exc:
        yield _line({"error": {"code": exc.code, "message": exc.message, "field": exc.field}, "status": exc.status})
        return
    yield _line({"phase": "read", "rows": len(items)})
    lines: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def told(phase: str) -> None:
        await lines.put(_line({"phase": phase, "rows": len(items)}))

    async def ingest() -> None:
        try:
            report = await service.ingest(items, Channel.UPLOAD, reporter, progress=told, file_name=file_name)
            await lines.put(_line({"result": {**row_answer(report), "upload_id": report.batch_id}}))
        except DomainError as exc:
            await lines.put(_line({"error": {"code": exc.code, "message": exc.message, "field": exc.field}}))
        except Exception:
            log.exception("a streamed upload failed")
            message = "暂时无法处理，请稍后重试 / unavailable, try again later"
            await lines.put(_line({"error": {"code": "unavailable", "message": message, "field": None}}))
        finally:
            await lines.put(None)

    # the ingestion is not tied to the connection: a client that goes away loses the answer, not the rows
    task = asyncio.create_task(ingest())
    _running.add(task)
    task.add_done_callback(_running.discard)
    while (line := await lines.get()) is not None:
        yield line


_running: set[asyncio.Task[None]] = set()


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"
