"""L1 manual reporting: spreadsheet templates, uploads answered row by row, and the web form for
branches that have no system at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alliance_shared.contracts.vocabulary import MEETING_KIND_ZH, Channel
from alliance_shared.errors import Invalid, NotFound, PayloadTooLarge
from alliance_shared.http import CurrentUser
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field

from ..adapters.spreadsheets import read_rows, template
from ..domain.model import Submitted
from ..domain.sheets import LAYOUTS, Layout, is_example, to_submitted
from .deps import ActivityDep, reporter_of, row_answer

router = APIRouter(tags=["manual"])
_pages = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _layout(kind: str) -> Layout:
    layout = LAYOUTS.get(kind)
    if layout is None:
        raise NotFound(f"没有该模板 / no template {kind!r}; kinds: {', '.join(LAYOUTS)}", field="kind")
    return layout


@router.get("/api/v1/templates/{kind}.xlsx")
async def get_template(kind: str) -> Response:
    return Response(
        template(_layout(kind)),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{kind}.xlsx"'},
    )


@router.post("/api/v1/uploads")
async def upload(
    user: CurrentUser, service: ActivityDep, file: UploadFile = File(...), kind: str = Form(...)
) -> dict[str, Any]:
    """An XLSX or CSV (UTF-8 or GBK) of one kind; good rows are kept, bad ones answered with reasons."""
    reporter = reporter_of(user)
    layout = _layout(kind)
    limit = service.settings.upload_max_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge(f"文件不能超过 {limit // 1024 // 1024} MB / file too large", field="file")
    items: list[Submitted] = []
    institution = reporter.institution_id or ""
    for number, values in read_rows(layout, file.filename or "", content):
        if is_example(values):
            continue
        if len(items) >= service.settings.upload_max_rows:
            raise PayloadTooLarge(f"每个文件最多 {service.settings.upload_max_rows} 行 / too many rows", field="file")
        items.append(
            to_submitted(
                layout,
                values,
                institution_id=institution,
                source=f"/institutions/{institution}/uploads",
                row=number,
                label=f"row {number}",
            )
        )
    if not items:
        raise Invalid("文件中没有数据行 / the file has no data rows", field="file")
    report = await service.ingest(items, Channel.UPLOAD, reporter)
    return row_answer(report)


class MeetingForm(BaseModel):
    """The web form's fields, as the page posts them."""

    organization_id: str = Field(min_length=1, max_length=100)
    meeting_kind: str = Field(min_length=1, max_length=50)
    held_at: str = Field(min_length=1, max_length=40)
    attendee_ids: str | list[str] = ""
    expected_count: int | str = 0
    topic: str = Field(default="", max_length=500)


@router.post("/api/v1/forms/meeting")
async def submit_meeting_form(form: MeetingForm, user: CurrentUser, service: ActivityDep) -> dict[str, Any]:
    reporter = reporter_of(user)
    institution = reporter.institution_id or ""
    values = form.model_dump()
    if isinstance(values["attendee_ids"], list):
        values["attendee_ids"] = ",".join(values["attendee_ids"])
    item = to_submitted(
        LAYOUTS["meeting"],
        values,
        institution_id=institution,
        source=f"/institutions/{institution}/form",
        row=None,
        label="form",
    )
    report = await service.ingest([item], Channel.FORM, reporter)
    return row_answer(report)


@router.get("/form", response_class=HTMLResponse)
async def meeting_form(request: Request) -> HTMLResponse:
    """三会一课 web form, Chinese first; it posts with the branch secretary's token."""
    page = _pages.get_template("meeting_form.html").render(kinds=list(MEETING_KIND_ZH.values()))
    return HTMLResponse(page)
