"""Request and answer models of the registry API. Answers are built field by field from stored
documents, so a sealed value, a lookup hash or a key hash cannot leak into an answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from alliance_shared.clock import SHANGHAI
from alliance_shared.contracts.vocabulary import (
    AllianceRole,
    MemberStatus,
    OrganizationKind,
    Ownership,
    PartyOrgStatus,
    ReportingLevel,
)
from pydantic import BaseModel, ConfigDict, Field

from ..domain.classification import Classification
from ..domain.commands import ContactDetails
from ..domain.transfers import Transfer

Doc = dict[str, Any]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ContactIn(_In):
    name: str = Field("", max_length=50)
    phone: str | None = Field(None, max_length=20)
    email: str | None = Field(None, max_length=254)

    def details(self) -> ContactDetails:
        return ContactDetails(self.name, self.phone, self.email)


class InstitutionIn(_In):
    uscc: str = Field(max_length=30)
    name: str = Field(min_length=1, max_length=200)
    ownership: Ownership
    sector: str = Field("", max_length=100)
    party_org_status: PartyOrgStatus
    reporting_level: ReportingLevel
    alliance_role: AllianceRole = AllianceRole.MEMBER
    effective_from: date | None = None
    contact: ContactIn | None = None


class InstitutionPatch(_In):
    ownership: Ownership | None = None
    party_org_status: PartyOrgStatus | None = None
    reporting_level: ReportingLevel | None = None
    alliance_role: AllianceRole | None = None
    sector: str | None = Field(None, max_length=100)
    name: str | None = Field(None, min_length=1, max_length=200)
    contact: ContactIn | None = None
    effective_from: date | None = None


class ApiKeyIn(_In):
    label: str = Field("", max_length=100)


class OrganizationIn(_In):
    name: str = Field(min_length=1, max_length=200)
    kind: OrganizationKind
    institution_ids: list[str] = Field(min_length=1, max_length=50)
    parent_id: str | None = None
    established_at: date | None = None
    has_party_groups: bool = False
    secretary: ContactIn | None = None


class OrganizationPatch(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    parent_id: str | None = None
    has_party_groups: bool | None = None
    secretary: ContactIn | None = None


class ClosingIn(_In):
    closed_at: date | None = None


class MemberIn(_In):
    organization_id: str
    name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(max_length=30)
    phone: str | None = Field(None, max_length=20)
    status: MemberStatus
    joined_at: date | None = None
    institution_id: str | None = None
    pocket: bool = False
    cadre_roles: list[str] = Field(default_factory=list, max_length=10)


class MemberPatch(_In):
    status: MemberStatus | None = None
    effective_at: date | None = None
    pocket: bool | None = None
    phone: str | None = Field(None, max_length=20)
    cadre_roles: list[str] | None = Field(None, max_length=10)


class LeavingIn(_In):
    left_at: date | None = None
    reason: str = Field("", max_length=200)


class TransferIn(_In):
    to_organization_id: str


class RefusalIn(_In):
    reason: str = Field("", max_length=500)


# -- answers: each route declares its model, so the OpenAPI documents every answer and a field a
# mapper below does not name is dropped rather than served ----------------------------------------
class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContactPublic(_Out):
    name: str = ""
    phone: str | None = Field(None, description="掩码 / masked")
    email: str | None = Field(None, description="掩码 / masked")


class InstitutionPublic(_Out):
    id: str
    uscc: str = Field(description="统一社会信用代码 / unified social credit code")
    name: str
    ownership: Ownership
    party_org_status: PartyOrgStatus
    reporting_level: ReportingLevel
    alliance_role: AllianceRole
    sector: str
    contact: ContactPublic | None
    classification_history: list[dict[str, Any]] = Field(description="分类变更史 / classification periods")
    registered_at: datetime | None
    as_of: date | None = Field(None, description="按此日的分类 / classification as of this day, when asked")


class InstitutionPage(_Out):
    items: list[InstitutionPublic]
    total: int
    page: int
    page_size: int


class ApiKeyPublic(_Out):
    key_id: str
    institution_id: str
    prefix: str = Field(description="密钥前缀，用于辨认 / the key's prefix, to tell keys apart")
    label: str
    issued_at: datetime
    revoked_at: datetime | None
    active: bool


class ApiKeyIssuedPublic(ApiKeyPublic):
    api_key: str = Field(description="密钥本身，仅此一次显示 / the key itself, shown this once only")


class ApiKeyList(_Out):
    items: list[ApiKeyPublic]


class OrganizationPublic(_Out):
    id: str
    name: str
    kind: OrganizationKind
    institution_id: str
    institution_ids: list[str] = Field(description="联合党支部的各机构 / a joint branch's institutions")
    parent_id: str | None
    established_at: date
    closed_at: date | None
    has_party_groups: bool
    secretary: ContactPublic | None
    children: list[OrganizationPublic] | None = Field(None, description="组织树中的下级 / in a tree: the children")


class OrganizationList(_Out):
    items: list[OrganizationPublic]


class TransferPublic(_Out):
    id: str
    member_id: str
    status: str = Field(description="pending | accepted | refused")
    from_organization_id: str
    from_institution_id: str
    to_organization_id: str
    to_institution_id: str
    requested_at: datetime | None
    deadline: date
    decided_at: datetime | None
    reason: str
    overdue_notified: bool


class TransferPage(_Out):
    items: list[TransferPublic]
    total: int


class StatusChangePublic(_Out):
    status: MemberStatus
    effective_at: date


class MemberPublic(_Out):
    id: str
    name: str
    organization_id: str
    institution_id: str
    status: MemberStatus
    joined_at: date
    id_number: str = Field(description="掩码 / masked")
    phone: str | None = Field(None, description="掩码 / masked")
    pocket: bool
    cadre_roles: list[str]
    status_history: list[StatusChangePublic]
    left_at: date | None
    transfer: TransferPublic | None


class MemberList(_Out):
    items: list[MemberPublic]
    total: int


class MemberSlice(_Out):
    items: list[MemberPublic]
    next: str | None = Field(description="下一页的 after；末页为 null / the next page's `after`, null on the last")


class MemberPiiPublic(_Out):
    id: str
    id_number: str = Field(description="明文身份证号：勿记入日志 / unmasked: never log it")
    phone: str | None


class TransferScanResult(_Out):
    announced: int = Field(description="本次宣布逾期的转接数 / transfers announced overdue by this scan")


class RowRejected(_Out):
    row: int
    field: str | None
    reason: str


class ImportProgress(_Out):
    processed: int
    total: int
    rate: float = Field(description="每秒行数 / rows a second so far")
    elapsed_s: float


class ImportAnswer(_Out):
    """An import's answer: with `wait`, its report; without, its id and progress at once (202)."""

    id: str
    status: str = Field(description="running | done | failed")
    kind: str
    rows: int
    created: int
    unchanged: int
    rejected: list[RowRejected]
    progress: ImportProgress


class ImportStatus(ImportAnswer):
    filename: str
    rejected_rows: int
    started_at: datetime
    finished_at: datetime | None
    error: str | None


def shown(at: datetime | None) -> str | None:
    """An instant as the alliance reads it: RFC 3339 in Asia/Shanghai."""
    return at.astimezone(SHANGHAI).isoformat() if at else None


def contact_out(stored: Doc | None) -> Doc | None:
    if not stored:
        return None
    return {
        "name": stored.get("name", ""),
        "phone": stored.get("phone_masked"),
        "email": stored.get("email_masked"),
    }


def institution_out(doc: Doc, as_of: Classification | None = None, on: date | None = None) -> Doc:
    cls = as_of.to_dict() if as_of else {k: doc[k] for k in Classification.__dataclass_fields__}
    out = {
        "id": doc["_id"],
        "uscc": doc["uscc"],
        "name": doc["name"],
        **cls,
        "contact": contact_out(doc.get("contact")),
        "classification_history": [dict(p) for p in doc["classifications"]],
        "registered_at": shown(doc.get("registered_at")),
    }
    if on is not None:
        out["as_of"] = on.isoformat()
    return out


def api_key_out(doc: Doc) -> Doc:
    return {
        "key_id": doc["_id"],
        "institution_id": doc["institution_id"],
        "prefix": doc["prefix"],
        "label": doc.get("label", ""),
        "issued_at": shown(doc["issued_at"]),
        "revoked_at": shown(doc.get("revoked_at")),
        "active": doc.get("revoked_at") is None,
    }


def organization_out(doc: Doc) -> Doc:
    out = {
        "id": doc["_id"],
        "name": doc["name"],
        "kind": doc["kind"],
        "institution_id": doc["institution_id"],
        "institution_ids": doc["institution_ids"],
        "parent_id": doc.get("parent_id"),
        "established_at": doc["established_at"],
        "closed_at": doc.get("closed_at"),
        "has_party_groups": doc.get("has_party_groups", False),
        "secretary": contact_out(doc.get("secretary")),
    }
    if "children" in doc:
        out["children"] = [organization_out(child) for child in doc["children"]]
    return out


def transfer_out(t: Transfer) -> Doc:
    return {
        "id": t.id,
        "member_id": t.member_id,
        "status": t.status.value,
        "from_organization_id": t.from_organization_id,
        "from_institution_id": t.from_institution_id,
        "to_organization_id": t.to_organization_id,
        "to_institution_id": t.to_institution_id,
        "requested_at": shown(t.requested_at),
        "deadline": t.deadline.isoformat(),
        "decided_at": shown(t.decided_at),
        "reason": t.reason,
        "overdue_notified": t.overdue_notified,
    }


def current_transfer_out(member: Doc) -> Doc:
    """The member's current transfer, as answered (there is one after any transfer command)."""
    return transfer_out(Transfer.from_dict(member["transfer"]))


def member_out(doc: Doc) -> Doc:
    current = doc.get("transfer")
    return {
        "id": doc["_id"],
        "name": doc["name"],
        "organization_id": doc["organization_id"],
        "institution_id": doc["institution_id"],
        "status": doc["status"],
        "joined_at": doc["joined_at"],
        "id_number": doc["id_masked"],
        "phone": doc.get("phone_masked"),
        "pocket": doc.get("pocket", False),
        "cadre_roles": doc.get("cadre_roles", []),
        "status_history": doc.get("status_history", []),
        "left_at": doc.get("left_at"),
        "transfer": transfer_out(Transfer.from_dict(current)) if current else None,
    }
