"""The unified view API (CONTRACT.md, evaluation section) and the secretariat's commands.
Thin routes: parse, authorize, call a handler or a view, answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Forbidden
from alliance_shared.http import CurrentUser, Page, PageSize
from fastapi import APIRouter, Depends, Request

from ..adapters import views
from ..domain import maturity
from ..domain.errors import UnknownEvent, UnknownOrganization
from ..domain.periods import Period
from ..domain.ruleset import available_versions
from ..usecases import score_decisions, scoring, unlocks
from ..usecases.score_decisions import (
    DecideAdjustment,
    FileAppeal,
    GrantExemption,
    ProposeAdjustment,
    RateObject,
    ResolveAppeal,
)
from ..usecases.unit import EvaluationUnit
from .schemas import (
    Adjustment,
    Appeal,
    BranchCard,
    Changes,
    EvidenceEvent,
    Exemption,
    InstitutionCard,
    LaggingPage,
    Overview,
    PeriodClosedAnswer,
    PeriodState,
    Ranking,
    Rating,
    Replay,
    RulesetVersions,
)

READ_ALL = (Role.SECRETARIAT, Role.REGULATOR)


def evaluation(request: Request) -> EvaluationUnit:
    ev: EvaluationUnit = request.app.state.evaluation
    return ev


Ev = Annotated[EvaluationUnit, Depends(evaluation)]


def period_of(text: str) -> str:
    return str(Period.parse(text))


def require_reader(who: Principal, institution_ids: list[str]) -> None:
    """Secretariat and regulators read everything; anyone else only their own institution."""
    if who.role in READ_ALL:
        return
    if who.institution_id is None or who.institution_id not in institution_ids:
        raise Forbidden("无权访问其他机构的数据 / not your institution", field="institution_id")


def scope(who: Principal, requested: str | None) -> str | None:
    """The institution a scoped caller may list: their own (asking for another is 403)."""
    if who.role in READ_ALL:
        return requested
    if who.institution_id is None or (requested and requested != who.institution_id):
        raise Forbidden("无权访问其他机构的数据 / not your institution", field="institution_id")
    return who.institution_id


router = APIRouter(prefix="/api/v1", tags=["evaluation"])


@router.get("/overview", response_model=Overview)
async def get_overview(who: CurrentUser, ev: Ev, period: str) -> dict[str, Any]:
    who.require_role(*READ_ALL)
    return await views.overview(ev.models, period_of(period))


@router.get("/rulesets", response_model=RulesetVersions)
async def get_rulesets(who: CurrentUser, ev: Ev) -> dict[str, Any]:
    return {"current": ev.ruleset.version, "versions": available_versions()}


@router.get("/periods/{period}", response_model=PeriodState)
async def get_period(who: CurrentUser, ev: Ev, period: str) -> dict[str, Any]:
    who.require_role(*READ_ALL)
    doc = await ev.models.period(period_of(period)) or {"_id": period_of(period), "status": "open"}
    return {
        "period": doc["_id"],
        "status": doc.get("status", "open"),
        "closed_at": doc.get("closed_at"),
        "closed_by": doc.get("closed_by"),
        "late_events": doc.get("late_events", []),
    }


@router.get("/periods/{period}/scores", response_model=Ranking)
async def get_scores(
    who: CurrentUser,
    ev: Ev,
    period: str,
    level: Literal["institution", "branch"] = "institution",
    ownership: str | None = None,
    sector: str | None = None,
    reporting_level: str | None = None,
    institution_id: str | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    filters: dict[str, Any] = {
        k: v
        for k, v in (("ownership", ownership), ("sector", sector), ("reporting_level", reporting_level))
        if v
    }
    scoped = scope(who, institution_id)
    if scoped:
        filters["institution_ids"] = scoped
    return await views.ranking(ev.models, period_of(period), level, filters, page, page_size)


@router.get("/periods/{period}/institutions/{institution_id}", response_model=InstitutionCard | Replay)
async def get_institution(
    who: CurrentUser,
    ev: Ev,
    period: str,
    institution_id: str,
    compare: str | None = None,
    ruleset: str | None = None,
) -> dict[str, Any]:
    require_reader(who, [institution_id])
    if ruleset:
        return await scoring.replay(ev, Period.parse(period), institution_id, ruleset)
    answer = await views.institution(ev.models, period_of(period), institution_id, compare)
    rs = ev.ruleset_for(period_of(period))  # its completeness and timeliness against its level's
    return answer | {"against_level": maturity.against_level(answer, rs)}


@router.get("/periods/{period}/institutions/{institution_id}/changes", response_model=Changes)
async def get_changes(
    who: CurrentUser, ev: Ev, period: str, institution_id: str, against: str | None = None
) -> dict[str, Any]:
    require_reader(who, [institution_id])
    return await views.changes(ev.models, period_of(period), institution_id, against)


@router.get("/periods/{period}/organizations/{organization_id}", response_model=BranchCard)
async def get_organization(
    request: Request, who: CurrentUser, ev: Ev, period: str, organization_id: str
) -> dict[str, Any]:
    doc = await ev.models.score(period_of(period), "branch", organization_id)
    if doc is None:
        if who.role not in READ_ALL:  # do not reveal which ids exist elsewhere
            require_reader(who, await ev.projections.institutions_of_orgs([organization_id]))
        raise UnknownOrganization(organization_id)
    require_reader(who, doc.get("institution_ids", []))
    answer = await views.organization(ev.models, period_of(period), organization_id)
    return answer | {
        "unlocks": await unlocks.of(ev, period, organization_id=organization_id,  # exceptions covering it
                                    institution_ids=doc.get("institution_ids", [])),
        # 上级代办: the branch's reports of the period filed for it by a superior
        "filed_on_behalf": await ev.projections.filed_on_behalf(period_of(period), organization_id),
    }


@router.get("/events/{event_id}", response_model=EvidenceEvent)
async def get_event(who: CurrentUser, ev: Ev, event_id: str) -> dict[str, Any]:
    """证据事件：内容、到达时间与方式、来源（上传文件与行、批次、回调）/ an evidence event: what it
    says, when and how it arrived, and from which upload (file, row), batch or webhook call."""
    doc = await ev.projections.activity_event(event_id)
    if doc is None or (who.role not in READ_ALL and doc.get("institution_id") != who.institution_id):
        raise UnknownEvent(event_id)  # another institution's event is not said to exist
    return views.evidence_event(doc)


@router.get("/lagging", response_model=LaggingPage)
async def get_lagging(
    who: CurrentUser, ev: Ev, institution_id: str | None = None, page: Page = 1, page_size: PageSize = 100
) -> dict[str, Any]:
    return await views.lagging(ev.models, scope(who, institution_id), page, page_size)


@router.post("/periods/{period}/close", response_model=PeriodClosedAnswer)
async def post_close(who: CurrentUser, ev: Ev, period: str) -> dict[str, Any]:
    who.require_role(Role.SECRETARIAT)
    return await scoring.close_period(ev, Period.parse(period), who)


@router.post("/ratings", status_code=201, response_model=Rating)
async def post_rating(who: CurrentUser, ev: Ev, body: RateObject) -> dict[str, Any]:
    return await score_decisions.rate(ev, who, body)


@router.post("/adjustments", status_code=201, response_model=Adjustment)
async def post_adjustment(who: CurrentUser, ev: Ev, body: ProposeAdjustment) -> dict[str, Any]:
    return await score_decisions.propose_adjustment(ev, who, body)


@router.post("/adjustments/{adjustment_id}/decision", response_model=Adjustment)
async def post_adjustment_decision(
    who: CurrentUser, ev: Ev, adjustment_id: str, body: DecideAdjustment
) -> dict[str, Any]:
    return await score_decisions.decide_adjustment(ev, who, adjustment_id, body)


@router.post("/appeals", status_code=201, response_model=Appeal)
async def post_appeal(who: CurrentUser, ev: Ev, body: FileAppeal) -> dict[str, Any]:
    return await score_decisions.file_appeal(ev, who, body)


@router.post("/appeals/{appeal_id}/resolution", response_model=Appeal)
async def post_appeal_resolution(
    who: CurrentUser, ev: Ev, appeal_id: str, body: ResolveAppeal
) -> dict[str, Any]:
    return await score_decisions.resolve_appeal(ev, who, appeal_id, body)


@router.post("/exemptions", status_code=201, response_model=Exemption)
async def post_exemption(who: CurrentUser, ev: Ev, body: GrantExemption) -> dict[str, Any]:
    return await score_decisions.exempt(ev, who, body)
