"""The review of submissions over HTTP: the reviewer's queue and history (the page `/review`, and
`GET /api/v1/reviews`), approve and return, the reporter's resubmission and what a report's
review says. Thin: parse, call `reviews.handle`, shape the answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alliance_shared.auth import mint_token
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Forbidden, NotFound
from alliance_shared.http import CurrentUser, Page, PageSize
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field

from ..domain import review as review_rules
from ..domain.model import Submitted
from ..usecases.reviews import Reviews, described, handle, load_reviewable, reviewable_institutions
from .deps import ActivityDep, event_answer
from .schemas import DevToken, Resubmitted, ReviewedReport, ReviewPage

router = APIRouter(tags=["reviews"])
HERE = Path(__file__).parent
STATIC = {"review.js": "text/javascript", "review.css": "text/css"}
DEV_TOKEN_TTL_S = 8 * 3600


def reviews_of(request: Request) -> Reviews:
    found: Reviews = request.app.state.reviews
    return found


# -- the page --------------------------------------------------------------------------------------
@router.get("/review", response_class=HTMLResponse)
async def review_page(service: ActivityDep) -> HTMLResponse:
    """上报审核: the queue of reports awaiting review and the history of reviews, Chinese first."""
    page = (HERE / "templates" / "review.html").read_text(encoding="utf-8")
    return HTMLResponse(page.replace("{{ dev_sign_in }}", "1" if service.settings.dev_sign_in_enabled else ""))


@router.get("/review/static/{name}", include_in_schema=False)
async def review_static(name: str) -> FileResponse:
    if name not in STATIC:
        raise NotFound("没有该文件 / no such file", field="name")
    return FileResponse(HERE / "static" / name, media_type=STATIC[name])


class ReviewerSignIn(BaseModel):
    institution_id: str | None = Field(default=None, min_length=1, max_length=100)  # None: the secretariat


@router.post("/api/v1/reviews/sign-in", response_model=DevToken)
async def dev_reviewer_sign_in(body: ReviewerSignIn, service: ActivityDep) -> dict[str, Any]:
    """Development only: the JWT of an institution's Party admin, or of the secretariat, signed as
    the SSO's would be."""
    if not service.settings.dev_sign_in_enabled:
        raise NotFound("开发环境登录未启用 / the development sign-in is off", field="sign_in")
    if body.institution_id is not None and await service.projection.institution(body.institution_id) is None:
        raise NotFound("没有该机构 / no such institution", field="institution_id")
    role = Role.INSTITUTION_ADMIN if body.institution_id else Role.SECRETARIAT
    token = mint_token(
        service.settings.auth_jwt_secret,
        role=role,
        subject=f"dev-{role.value}-{body.institution_id or 'alliance'}",
        institution_id=body.institution_id,
        ttl_s=DEV_TOKEN_TTL_S,
    )
    return {"token": token, "expires_in": DEV_TOKEN_TTL_S}


# -- the reviewer's lists --------------------------------------------------------------------------
@router.get("/api/v1/reviews", response_model=ReviewPage)
async def list_reviews(
    request: Request,
    user: CurrentUser,
    view: Literal["queue", "history"] = "queue",
    institution_id: str | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    """`queue`: the reports awaiting review (待审核, 已重新提交), oldest first; `history`: those
    reviewed (approved, returned, resubmitted), the latest step first. For the institution's Party
    admin, their own institution's; for the secretariat, those of emerging institutions without a
    Party organisation."""
    ctx = reviews_of(request)
    ids = await reviewable_institutions(ctx, user, institution_id)
    skip = (page - 1) * page_size
    if view == "queue":
        states = [s.value for s in review_rules.UNDER_REVIEW]
        docs, total = await ctx.store.queue(ids, states, limit=page_size, skip=skip)
    else:
        states = [s.value for s in review_rules.REVIEWED]
        docs, total = await ctx.store.history(ids, states, limit=page_size, skip=skip)
    names = {i: (await ctx.projection.institution(i) or {}).get("name") or i for i in ids}
    return {
        "view": view,
        "items": await described(ctx, docs),
        "total": total,
        "institutions": [{"id": i, "name": names[i]} for i in ids],
        "role": user.role.value if user.role else None,
    }


# -- the steps -------------------------------------------------------------------------------------
class ReviewComment(BaseModel):
    comment: str = Field(default="", max_length=review_rules.COMMENT_MAX)


class ReturnComment(BaseModel):
    comment: str = Field(max_length=review_rules.COMMENT_MAX)  # mandatory (blank is refused, Chinese first)


@router.post("/api/v1/submissions/{submission_id}/approve", response_model=ReviewedReport)
async def approve(
    submission_id: str, request: Request, user: CurrentUser, body: ReviewComment | None = None
) -> dict[str, Any]:
    ctx = reviews_of(request)
    record = await handle(ctx, review_rules.ApproveSubmission(submission_id, body.comment if body else ""), user)
    return (await described(ctx, [record]))[0]


@router.post("/api/v1/submissions/{submission_id}/return", response_model=ReviewedReport)
async def return_submission(
    submission_id: str, body: ReturnComment, request: Request, user: CurrentUser
) -> dict[str, Any]:
    ctx = reviews_of(request)
    record = await handle(ctx, review_rules.ReturnSubmission(submission_id, body.comment), user)
    return (await described(ctx, [record]))[0]


class Resubmission(BaseModel):
    comment: str = Field(default="", max_length=review_rules.COMMENT_MAX)
    event: dict[str, Any] | None = None  # the corrected CloudEvent (its `supersedes` is the returned id)


@router.post("/api/v1/submissions/{submission_id}/resubmit", response_model=Resubmitted)
async def resubmit(
    submission_id: str, body: Resubmission, request: Request, user: CurrentUser
) -> dict[str, Any]:
    """A returned report sent again: corrected (`event`, answered as the batch API answers it) or as it was."""
    ctx = reviews_of(request)
    correction = Submitted(body.event, str(body.event.get("id") or "#0")) if body.event is not None else None
    done = await handle(ctx, review_rules.ResubmitSubmission(submission_id, body.comment, correction), user)
    return {
        "review": (await described(ctx, [done.record]))[0] if done.record else None,
        **(event_answer(done.report) if done.report else {}),
    }


@router.get("/api/v1/submissions/{submission_id}/review", response_model=ReviewedReport)
async def review_of(submission_id: str, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Where a report stands and the steps it went through (its reporter and its reviewers read it)."""
    ctx = reviews_of(request)
    record = await load_reviewable(ctx, submission_id)
    institution = await ctx.projection.institution(record["institution_id"]) or {"_id": record["institution_id"]}
    reporter = review_rules.may_resubmit(user.role, user.institution_id, user.organization_id, record)
    if not (user.is_secretariat or reporter or review_rules.may_review(user.role, user.institution_id, institution)):
        raise Forbidden("不能查看其他机构的上报 / not your institution's report", field="submission_id")
    return (await described(ctx, [record]))[0]

