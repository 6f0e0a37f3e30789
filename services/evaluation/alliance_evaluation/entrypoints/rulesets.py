"""The ruleset lifecycle over HTTP (added to the contract): drafts (`POST /api/v1/rulesets/drafts`, a
YAML file as multipart `file`, YAML as `application/yaml`, or the ruleset as a JSON object), their
what-if over past quarters (202 and a status URL), its diff, and publication by a second approver."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from alliance_shared.http import CurrentUser, Page, PageSize, error_body
from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from ..domain.drafts import DraftInvalid, Problem, parse_text
from ..usecases.rulesets import DecidePublication, ProposePublication, RequestWhatIf, RulesetLifecycle
from .schemas import Draft, DraftDetail, DraftList, InForce, WhatIfJob, WhatIfRows

router = APIRouter(prefix="/api/v1/rulesets", tags=["rulesets"])
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


def lifecycle(request: Request) -> RulesetLifecycle:
    found: RulesetLifecycle = request.app.state.rulesets
    return found


Lifecycle = Annotated[RulesetLifecycle, Depends(lifecycle)]


def invalid(exc: DraftInvalid) -> JSONResponse:
    """422 in the error shape (the first problem), every problem in its `problems`."""
    first = exc.problems[0]
    body = error_body("invalid_ruleset", first.reason, first.field)
    body["error"]["problems"] = [p.as_dict() for p in exc.problems]
    return JSONResponse(body, status_code=422)


async def _draft_input(request: Request) -> tuple[dict[str, Any], str | None, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise DraftInvalid([Problem("file", "请上传评价细则 YAML 文件（字段 file）/ upload the YAML as `file`")])
        data = await upload.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise DraftInvalid([Problem("file", "文件须为 UTF-8 编码 / the file must be UTF-8")]) from None
        return parse_text(text), text, "file"
    body = await request.body()
    if kind in YAML_TYPES:
        text = body.decode("utf-8", errors="replace")
        return parse_text(text), text, "yaml"
    try:
        raw = json.loads(body or b"null")
    except ValueError:
        raise DraftInvalid([Problem("body", "请求体不是 JSON / the body is not JSON")]) from None
    if isinstance(raw, dict) and set(raw) == {"yaml"} and isinstance(raw["yaml"], str):
        return parse_text(raw["yaml"]), raw["yaml"], "yaml"
    if not isinstance(raw, dict):
        raise DraftInvalid([Problem("body", "须为评价细则的 JSON 对象 / must be the ruleset as a JSON object")])
    return raw, None, "json"


@router.post("/drafts", status_code=201, response_model=None,
             responses={201: {"model": Draft, "description": "草案 / the draft"}})
async def post_draft(request: Request, who: CurrentUser, rl: Lifecycle) -> dict[str, Any] | JSONResponse:
    """提交评价细则草案（YAML 文件或 JSON）：校验后存为草案 / submit a draft ruleset: checked, stored as a draft."""
    try:
        raw, text, source = await _draft_input(request)
        return await rl.create(raw, who, text=text, source=source)
    except DraftInvalid as exc:
        return invalid(exc)


@router.get("/drafts", response_model=DraftList)
async def get_drafts(who: CurrentUser, rl: Lifecycle) -> dict[str, Any]:
    return {"items": await rl.drafts(who)}


@router.get("/drafts/{draft_id}", response_model=DraftDetail)
async def get_draft(draft_id: str, who: CurrentUser, rl: Lifecycle) -> dict[str, Any]:
    return await rl.draft(draft_id, who)


@router.post("/drafts/{draft_id}/whatif", status_code=202,
             responses={202: {"model": WhatIfJob, "description": "回放任务 / the job"}})
async def post_whatif(draft_id: str, body: RequestWhatIf, who: CurrentUser, rl: Lifecycle) -> JSONResponse:
    """在所选季度上为全部机构回放草案（异步任务）/ replay the draft over past quarters for all institutions."""
    job = await rl.start_whatif(draft_id, body, who)
    return JSONResponse(jsonable_encoder(job), status_code=202,
                        headers={"Location": job["status_url"]})  # fmt: skip


@router.get("/whatif/{job_id}", response_model=WhatIfJob)
async def get_whatif(job_id: str, who: CurrentUser, rl: Lifecycle) -> dict[str, Any]:
    """回放任务的状态、进度与差异汇总 / the job's status, progress and summary of the diff."""
    return await rl.job(job_id, who)


@router.get("/whatif/{job_id}/rows", response_model=WhatIfRows)
async def get_whatif_rows(
    job_id: str,
    who: CurrentUser,
    rl: Lifecycle,
    period: str,
    level: Literal["institution", "branch"] = "institution",
    changed_only: bool = True,
    sort: str = "rank_change",
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    """差异明细：每个机构或支部的前后得分、等级、排名与变动的指标 / before, after and the indicators that moved."""
    return await rl.rows(job_id, who, period=period, level=level, changed_only=changed_only, sort=sort,
                         page=page, page_size=page_size)  # fmt: skip


@router.post("/drafts/{draft_id}/publication", response_model=Draft)
async def post_publication(draft_id: str, body: ProposePublication, who: CurrentUser, rl: Lifecycle) -> dict[str, Any]:
    """提请发布（指定适用季度），待另一位秘书处人员批准 / propose publication for the given quarters."""
    return await rl.propose(draft_id, body, who)


@router.post("/drafts/{draft_id}/decision", response_model=Draft)
async def post_decision(draft_id: str, body: DecidePublication, who: CurrentUser, rl: Lifecycle) -> dict[str, Any]:
    """第二审批人批准或驳回发布 / a second secretariat user approves or rejects the publication."""
    return await rl.decide(draft_id, body, who)


@router.get("/in-force", response_model=InForce)
async def get_in_force(who: CurrentUser, rl: Lifecycle) -> dict[str, Any]:
    """各季度适用的评价细则（未单独发布的季度用默认版本）/ the ruleset each quarter is scored with."""
    return {"default": rl.ev.ruleset.version, "periods": {p: rs.version for p, rs in sorted(rl.ev.in_force.items())}}
