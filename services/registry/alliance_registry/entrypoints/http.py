"""The registry's HTTP routes (CONTRACT.md, registry): thin — parse, call a handler or a view,
shape the answer. Authorization lives in the handlers and views."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from alliance_shared.contracts.vocabulary import Ownership, ReportingLevel
from alliance_shared.errors import Invalid, PayloadTooLarge
from alliance_shared.http import MAX_PAGE_SIZE, CurrentUser, Page, PageSize
from alliance_shared.job_routes import JOB_ANSWER, JobsDep, Wait, job_answer
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from ..domain import commands
from ..domain.imports import ImportKind
from ..handlers import handle
from ..usecases import import_jobs, importer, scans, views
from ..usecases.context import RegistryUnit
from . import schemas

Doc = dict[str, Any]


def registry(request: Request) -> RegistryUnit:
    reg: RegistryUnit = request.app.state.registry
    return reg


Reg = Annotated[RegistryUnit, Depends(registry)]
router = APIRouter(prefix="/api/v1", tags=["registry"])


# -- institutions ---------------------------------------------------------------------------------
@router.post("/institutions", response_model=schemas.InstitutionPublic, status_code=201)
async def register_institution(body: schemas.InstitutionIn, who: CurrentUser, reg: Reg) -> Doc:
    data = body.model_dump(exclude={"contact"})
    doc = await handle(
        reg, commands.RegisterInstitution(**data, contact=body.contact.details() if body.contact else None), who
    )
    return schemas.institution_out(doc)


@router.get("/institutions", response_model=schemas.InstitutionPage)
async def list_institutions(
    who: CurrentUser,
    reg: Reg,
    ownership: Ownership | None = None,
    reporting_level: ReportingLevel | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> Doc:
    items, total = await views.institutions(
        reg, who, ownership=ownership, reporting_level=reporting_level, page=page, page_size=page_size
    )
    return {
        "items": [schemas.institution_out(d) for d in items],
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.get("/institutions/{institution_id}", response_model=schemas.InstitutionPublic)
async def get_institution(institution_id: str, who: CurrentUser, reg: Reg, as_of: date | None = None) -> Doc:
    doc, cls = await views.institution(reg, institution_id, who, as_of)
    return schemas.institution_out(doc, cls, as_of or reg.today())


@router.patch("/institutions/{institution_id}", response_model=schemas.InstitutionPublic)
async def reclassify_institution(
    institution_id: str, body: schemas.InstitutionPatch, who: CurrentUser, reg: Reg
) -> Doc:
    data = body.model_dump(exclude={"contact"})
    cmd = commands.ReclassifyInstitution(
        institution_id=institution_id, **data, contact=body.contact.details() if body.contact else None
    )
    return schemas.institution_out(await handle(reg, cmd, who))


@router.post("/institutions/{institution_id}/api-keys", response_model=schemas.ApiKeyIssuedPublic, status_code=201)
async def issue_api_key(
    institution_id: str, who: CurrentUser, reg: Reg, body: schemas.ApiKeyIn | None = None
) -> Doc:
    doc, api_key = await handle(reg, commands.IssueApiKey(institution_id, body.label if body else ""), who)
    return {**schemas.api_key_out(doc), "api_key": api_key}  # the only time the key is shown


@router.get("/institutions/{institution_id}/api-keys", response_model=schemas.ApiKeyList)
async def list_api_keys(institution_id: str, who: CurrentUser, reg: Reg) -> Doc:
    return {"items": [schemas.api_key_out(d) for d in await views.api_keys(reg, institution_id, who)]}


@router.delete("/institutions/{institution_id}/api-keys/{key_id}", status_code=204)
async def revoke_api_key(institution_id: str, key_id: str, who: CurrentUser, reg: Reg) -> Response:
    """吊销密钥：应答 204 后 1 秒内各服务均拒绝该密钥 / Revoke a key: within 1 s of this 204 every
    service refuses it. The revocation and its `fpba.api_key.revoked.v1` event are stored in one
    document write and the outbox relay is woken at once; every activity process applies the event
    to its key cache the moment its key listener reads it (a consumer group per process, passing
    over the topic's other events undecoded); a process that missed it re-reads the projection
    after `API_KEY_CACHE_MAX_AGE_S` (5 s). No service asks the registry per request."""
    await handle(reg, commands.RevokeApiKey(institution_id, key_id), who)
    return Response(status_code=204)


@router.get("/institutions/{institution_id}/organizations", response_model=schemas.OrganizationList)
async def institution_organizations(institution_id: str, who: CurrentUser, reg: Reg) -> Doc:
    tree = await views.institution_organizations(reg, institution_id, who)
    return {"items": [schemas.organization_out(d) for d in tree]}


# -- organisations --------------------------------------------------------------------------------
@router.post("/organizations", response_model=schemas.OrganizationPublic, status_code=201)
async def open_organization(body: schemas.OrganizationIn, who: CurrentUser, reg: Reg) -> Doc:
    data = body.model_dump(exclude={"secretary"})
    cmd = commands.OpenOrganization(**data, secretary=body.secretary.details() if body.secretary else None)
    return schemas.organization_out(await handle(reg, cmd, who))


@router.get("/organizations/{organization_id}", response_model=schemas.OrganizationPublic)
async def get_organization(organization_id: str, who: CurrentUser, reg: Reg) -> Doc:
    return schemas.organization_out(await views.organization(reg, organization_id, who))


@router.patch("/organizations/{organization_id}", response_model=schemas.OrganizationPublic)
async def update_organization(
    organization_id: str, body: schemas.OrganizationPatch, who: CurrentUser, reg: Reg
) -> Doc:
    data = body.model_dump(exclude={"secretary"})
    cmd = commands.UpdateOrganization(
        organization_id=organization_id,
        **data,
        secretary=body.secretary.details() if body.secretary else None,
    )
    return schemas.organization_out(await handle(reg, cmd, who))


@router.post("/organizations/{organization_id}/close", response_model=schemas.OrganizationPublic)
async def close_organization(
    organization_id: str, who: CurrentUser, reg: Reg, body: schemas.ClosingIn | None = None
) -> Doc:
    cmd = commands.CloseOrganization(organization_id, body.closed_at if body else None)
    return schemas.organization_out(await handle(reg, cmd, who))


@router.get("/organizations/{organization_id}/members", response_model=schemas.MemberList)
async def organization_members(
    organization_id: str, who: CurrentUser, reg: Reg, include_left: bool = False
) -> Doc:
    docs = await views.organization_members(reg, organization_id, who, include_left=include_left)
    return {"items": [schemas.member_out(d) for d in docs], "total": len(docs)}


@router.get("/institutions/{institution_id}/members", response_model=schemas.MemberSlice)
async def institution_members(
    institution_id: str,
    who: CurrentUser,
    reg: Reg,
    after: Annotated[str | None, Query(max_length=64, description="上一页的 next / the previous page's next")] = None,
    limit: PageSize = 500,
) -> Doc:
    """The institution's current members (joint branches' included), in pages of `limit`: pass the
    answer's `next` as `after` for the next page; `next` is null on the last."""
    docs, following = await views.institution_members(reg, institution_id, who, after=after, limit=limit)
    return {"items": [schemas.member_out(d) for d in docs], "next": following}


# -- members --------------------------------------------------------------------------------------
@router.post("/members", response_model=schemas.MemberPublic, status_code=201)
async def register_member(body: schemas.MemberIn, who: CurrentUser, reg: Reg) -> Doc:
    return schemas.member_out(await handle(reg, commands.RegisterMember(**body.model_dump()), who))


@router.get("/members/{member_id}", response_model=schemas.MemberPublic)
async def get_member(member_id: str, who: CurrentUser, reg: Reg) -> Doc:
    return schemas.member_out(await views.member(reg, member_id, who))


@router.patch("/members/{member_id}", response_model=schemas.MemberPublic)
async def change_member(member_id: str, body: schemas.MemberPatch, who: CurrentUser, reg: Reg) -> Doc:
    return schemas.member_out(await handle(reg, commands.ChangeMember(member_id=member_id, **body.model_dump()), who))


@router.post("/members/{member_id}/leave", response_model=schemas.MemberPublic)
async def member_leaves(member_id: str, who: CurrentUser, reg: Reg, body: schemas.LeavingIn | None = None) -> Doc:
    cmd = commands.MemberLeaves(member_id, body.left_at if body else None, body.reason if body else "")
    return schemas.member_out(await handle(reg, cmd, who))


@router.get("/members/{member_id}/unmasked", response_model=schemas.MemberPiiPublic)
async def reveal_member_pii(
    member_id: str, who: CurrentUser, reg: Reg, purpose: str = Query(min_length=2, max_length=200)
) -> Doc:
    """Secretariat only; audited. The answer carries personal data: never log it."""
    values = await handle(reg, commands.RevealMemberPii(member_id, purpose), who)
    return {"id": member_id, **values}


# -- relation transfers ---------------------------------------------------------------------------
@router.post("/members/{member_id}/transfers", response_model=schemas.TransferPublic, status_code=201)
async def request_transfer(member_id: str, body: schemas.TransferIn, who: CurrentUser, reg: Reg) -> Doc:
    doc = await handle(reg, commands.RequestTransfer(member_id, body.to_organization_id), who)
    return schemas.current_transfer_out(doc)


@router.get("/transfers", response_model=schemas.TransferPage)
async def list_transfers(
    who: CurrentUser, reg: Reg, status: str | None = Query(None, pattern="^(pending|accepted|refused)$"),
    page: Page = 1, page_size: PageSize = MAX_PAGE_SIZE,
) -> Doc:
    """The current transfers the caller may see, oldest request first, a page at a time."""
    found = await views.transfers(reg, who, status=status)
    start = (page - 1) * page_size
    return {"items": [schemas.transfer_out(t) for t in found[start:start + page_size]], "total": len(found)}


@router.get("/transfers/{transfer_id}", response_model=schemas.TransferPublic)
async def get_transfer(transfer_id: str, who: CurrentUser, reg: Reg) -> Doc:
    found, _ = await views.transfer(reg, transfer_id, who)
    return schemas.transfer_out(found)


@router.post("/transfers/{transfer_id}/accept", response_model=schemas.TransferPublic)
async def accept_transfer(transfer_id: str, who: CurrentUser, reg: Reg) -> Doc:
    doc = await handle(reg, commands.AcceptTransfer(transfer_id), who)
    return schemas.current_transfer_out(doc)


@router.post("/transfers/{transfer_id}/refuse", response_model=schemas.TransferPublic)
async def refuse_transfer(
    transfer_id: str, who: CurrentUser, reg: Reg, body: schemas.RefusalIn | None = None
) -> Doc:
    doc = await handle(reg, commands.RefuseTransfer(transfer_id, body.reason if body else ""), who)
    return schemas.current_transfer_out(doc)


@router.post("/scans/transfers", status_code=202,
             responses={202: JOB_ANSWER,
                        200: {"model": schemas.TransferScanResult,
                              "description": "wait=true：扫描结果 / the scan's result"}})
async def scan_overdue_transfers(who: CurrentUser, reg: Reg, jobs: JobsDep, wait: Wait = False) -> JSONResponse:
    """秘书处：立即查找逾期的组织关系转接 / secretariat: look for overdue transfers now, as a job (202,
    Location; it also runs on a schedule); `?wait=true` answers `{"announced"}` once it is done."""
    job = await scans.start_overdue_transfer_scan(reg, jobs, who)
    return await job_answer(jobs, job, wait)


# -- bulk import ----------------------------------------------------------------------------------
@router.post("/imports", response_model=schemas.ImportAnswer,
             responses={202: {"model": schemas.ImportAnswer, "description": "wait=false：导入已开始 / started"}})
async def bulk_import(
    who: CurrentUser,
    reg: Reg,
    response: Response,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form()],
    wait: Annotated[bool, Form()] = True,
) -> Doc:
    """The per-row report once every row is done; with `wait=false`, 202 and the import's id at once,
    its progress then read from `GET /imports/{id}`."""
    try:
        import_kind = ImportKind(kind)
    except ValueError:
        raise Invalid(
            "kind 须为 institutions、organizations 或 members / kind must be institutions, "
            "organizations or members",
            field="kind",
        ) from None
    content = await file.read(reg.settings.import_max_bytes + 1)
    if len(content) > reg.settings.import_max_bytes:
        raise PayloadTooLarge(f"文件超过 {reg.settings.import_max_bytes} 字节 / file too large", field="file")
    answer = await importer.import_file(reg, import_kind, content, file.filename or "", who, wait=wait)
    if not wait:
        response.status_code = 202
    return answer


@router.get("/imports/{import_id}", response_model=schemas.ImportStatus)
async def import_status(import_id: str, who: CurrentUser, reg: Reg) -> Doc:
    """An import's progress (`processed` of `total` rows, `rate` rows/s) and, once done, its report."""
    return await import_jobs.import_status(reg, import_id, who)
