"""The L1 web form a branch secretary uses on a phone: sign in (in development a sign-in here mints
the JWT; in production the organisation's SSO issues it), pick the branch and the meeting kind from
lists, tick attendees from the branch's roll by name, pick the day, submit through the same path as
every channel, and see what the branch has reported this quarter and what it still owes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from alliance_shared.auth import mint_token
from alliance_shared.clock import Clock, quarter_of
from alliance_shared.contracts.vocabulary import (
    MEETING_KIND_ZH,
    Channel,
    Role,
    zh,
)
from alliance_shared.errors import Invalid, NotFound
from alliance_shared.http import CurrentUser
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field

from ..adapters.registry_names import RosterNames
from ..domain.filing import reporter_of
from ..domain.model import Reporter
from ..domain.review import ResubmitSubmission
from ..domain.sheets import LAYOUTS, to_submitted
from ..usecases import branch_sheet as sheets
from ..usecases.reviews import handle as handle_review
from ..usecases.unit import ActivityUnit
from .deps import ActivityDep, row_answer
from .schemas import BranchSheet, DevToken, FormAnswer, FormContext, SignInChoices

router = APIRouter(tags=["form"])
HERE = Path(__file__).parent
_pages = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
STATIC = {"form.js": "text/javascript", "form.css": "text/css"}
DEV_TOKEN_TTL_S = 8 * 3600
SIGN_IN_OFF = (
    "开发环境登录未启用，请通过本单位统一身份认证登录 / "
    "the development sign-in is off: sign in through your organisation's SSO"
)


# -- the page ------------------------------------------------------------------------------------
@router.get("/form", response_class=HTMLResponse)
async def meeting_form(service: ActivityDep) -> HTMLResponse:
    """三会一课填报, Chinese first, mobile first; it posts with the signed-in person's token."""
    settings = service.settings
    page = _pages.get_template("meeting_form.html").render(
        kinds=[(k.value, name) for k, name in MEETING_KIND_ZH.items()],
        dev_sign_in=settings.dev_sign_in_enabled,
        sso_url=settings.form_sso_url,
    )
    return HTMLResponse(page)


@router.get("/form/static/{name}", include_in_schema=False)
async def form_static(name: str) -> FileResponse:
    if name not in STATIC:
        raise NotFound("没有该文件 / no such file", field="name")
    return FileResponse(HERE / "static" / name, media_type=STATIC[name])


# -- development sign-in -------------------------------------------------------------------------
def _dev_only(service: ActivityUnit) -> None:
    if not service.settings.dev_sign_in_enabled:
        raise NotFound(SIGN_IN_OFF, field="sign_in")


@router.get("/api/v1/forms/sign-in", response_model=SignInChoices)
async def sign_in_choices(service: ActivityDep) -> dict[str, Any]:
    """Development only: the institutions the registry announced and their branches, to sign in as
    one branch's secretary."""
    _dev_only(service)
    items = []
    for inst in sorted(await service.projection.institutions(), key=lambda d: str(d.get("name") or "")):
        branches = sheets.branches_of(await service.projection.organizations_of(inst["_id"]))
        if branches:
            items.append({"id": inst["_id"], "name": inst.get("name") or "", "branches": branches})
    return {"items": items}


class DevSignIn(BaseModel):
    institution_id: str = Field(min_length=1, max_length=100)
    organization_id: str = Field(min_length=1, max_length=100)


@router.post("/api/v1/forms/sign-in", response_model=DevToken)
async def dev_sign_in(body: DevSignIn, service: ActivityDep) -> dict[str, Any]:
    """Development only: a branch secretary's JWT for the chosen branch, signed as the SSO's would be."""
    _dev_only(service)
    org = await service.projection.organization(body.organization_id)
    if org is None or body.institution_id not in (org.get("institution_ids") or ()):
        raise Invalid("该党支部不属于所选机构 / the branch is not the institution's", field="organization_id")
    token = mint_token(
        service.settings.auth_jwt_secret,
        role=Role.BRANCH_SECRETARY,
        subject=f"dev-secretary-{body.organization_id}",
        institution_id=body.institution_id,
        organization_id=body.organization_id,
        ttl_s=DEV_TOKEN_TTL_S,
    )
    return {"token": token, "expires_in": DEV_TOKEN_TTL_S}


# -- what the signed-in person may report for ----------------------------------------------------
@router.get("/api/v1/forms/context", response_model=FormContext)
async def form_context(request: Request, user: CurrentUser, service: ActivityDep) -> dict[str, Any]:
    """Who is signed in (by role and institution name), the branches they report for, the kinds."""
    branches = await sheets.my_branches(service, user)
    institution = await service.projection.institution(user.institution_id or "") or {}
    return {
        "role": zh(user.role.value if user.role else ""),
        "institution": institution.get("name") or "",
        "branches": branches,
        "kinds": [{"code": k.value, "name": name} for k, name in MEETING_KIND_ZH.items()],
        "quarter": quarter_of(_now(request)),
    }


def _now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.now()


@router.get("/api/v1/forms/branches/{organization_id}", response_model=BranchSheet)
async def branch_sheet(
    organization_id: str, request: Request, user: CurrentUser, service: ActivityDep
) -> dict[str, Any]:
    """One branch as the form shows it: its roll by name, this quarter's reported meetings and what
    it still owes (支部党员大会 once a quarter, 支部委员会 monthly, …)."""
    names_of: RosterNames = request.app.state.roster_names
    bearer = request.headers.get("authorization", "")[7:].strip()
    return await sheets.branch_sheet(service, names_of, user, organization_id, bearer, _now(request))


# -- the submission ------------------------------------------------------------------------------
class MeetingForm(BaseModel):
    """The web form's fields, as the page posts them."""

    organization_id: str = Field(min_length=1, max_length=100)
    meeting_kind: str = Field(min_length=1, max_length=50)
    held_at: str = Field(min_length=1, max_length=40)
    attendee_ids: str | list[str] = ""
    expected_count: int | str = 0
    topic: str = Field(default="", max_length=500)
    resubmits: str | None = Field(default=None, max_length=100)  # the returned meeting this corrects
    comment: str = Field(default="", max_length=1000)  # to the reviewer, with a resubmission


@router.post("/api/v1/forms/meeting", response_model=FormAnswer, response_model_exclude_unset=True)
async def submit_meeting_form(
    form: MeetingForm, request: Request, user: CurrentUser, service: ActivityDep
) -> dict[str, Any]:
    """One meeting, through the one ingestion path (channel `form`): the answer of an upload row.
    With `resubmits`, the correction of a returned meeting, sent again for review."""
    if user.is_secretariat:  # 上级代办: the secretariat files a branch's meeting, as of the branch's institution
        org = await service.projection.organization(form.organization_id) or {}
        if not org.get("institution_ids"):
            raise Invalid("党组织不存在 / unknown organization", field="organization_id")
        reporter = Reporter(user.subject, str(org["institution_ids"][0]), Role.SECRETARIAT)
    else:
        reporter = reporter_of(user)
    institution = reporter.institution_id or ""
    values = form.model_dump(exclude={"resubmits", "comment"})
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
    if form.resubmits:
        command = ResubmitSubmission(form.resubmits, form.comment, item, Channel.FORM)
        done = await handle_review(request.app.state.reviews, command, user)
        answer = row_answer(done.report) if done.report else {"accepted": 0, "duplicates": 0, "rejected": []}
        return answer | {"resubmitted": done.record is not None}
    report = await service.ingest([item], Channel.FORM, reporter)
    return row_answer(report)  # (a resubmission above files as its reporter did)
