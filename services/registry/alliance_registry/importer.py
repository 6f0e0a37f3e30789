"""Bulk import of institutions, organisations or members from a spreadsheet: each row becomes the
same command the API would send; bad rows are reported (row, field, reason), good rows kept, and a
row whose natural key (USCC; institution + organisation name; ID number) is already registered is
left unchanged — so importing the same file twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import (
    AllianceRole,
    MemberStatus,
    OrganizationKind,
    Ownership,
    PartyOrgStatus,
    ReportingLevel,
    Role,
)
from alliance_shared.errors import DomainError, Forbidden, Invalid

from .adapters.spreadsheets import read_sheet
from .adapters.store import INSTITUTIONS, MEMBERS, ORGANIZATIONS
from .context import Registry
from .domain import commands as c
from .domain.errors import AlreadyRegistered
from .domain.identifiers import normalize_id_number, normalize_uscc
from .domain.imports import Columns, ImportKind, RowError, map_headers, read_row, split_list
from .handlers import handle

# a command's field (as its errors name it) -> the import field whose column to blame
_BLAME = {
    "institution_ids": "institutions",
    "parent_id": "parent",
    "organization_id": "organization",
    "institution_id": "institution",
    "secretary.phone": "secretary_phone",
    "secretary.email": "secretary_email",
    "secretary.name": "secretary_name",
}


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "created": self.created,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


async def import_file(
    reg: Registry, kind: ImportKind, content: bytes, filename: str, who: Principal
) -> ImportReport:
    if who.is_machine or not (
        who.is_secretariat or (who.role is Role.INSTITUTION_ADMIN and kind is not ImportKind.INSTITUTIONS)
    ):
        raise await reg.deny(who, f"import.{kind}", "imports")
    sheet = read_sheet(content, filename, max_rows=reg.settings.import_max_rows)
    try:
        columns = map_headers(kind, sheet.headers)
    except RowError as exc:
        raise Invalid(exc.reason, field=exc.field) from None
    report = ImportReport(kind.value, rows=len(sheet.rows))
    row_handler = _ROWS[kind]
    lookups = await Lookups.read(reg) if kind is ImportKind.MEMBERS else None
    for number, raw in sheet.rows:
        try:
            created = await row_handler(reg, columns, read_row(columns, raw), who, lookups)
        except RowError as exc:
            report.rejected.append({"row": number, "field": exc.field, "reason": exc.reason})
            continue
        except DomainError as exc:
            blamed = _BLAME.get(exc.field or "", exc.field or "")
            report.rejected.append(
                {"row": number, "field": columns.header(blamed) if blamed else None, "reason": exc.message}
            )
            continue
        if created:
            report.created += 1
        else:
            report.unchanged += 1
    return report


async def _institution_row(
    reg: Registry, columns: Columns, row: dict[str, Any], who: Principal, lookups: Lookups | None = None
) -> bool:
    uscc = normalize_uscc(row["uscc"])
    if await reg.store.find_one(INSTITUTIONS, {"uscc": uscc}) is not None:
        return False
    cmd = c.RegisterInstitution(
        uscc=uscc,
        name=row["name"],
        ownership=Ownership(row["ownership"]),
        party_org_status=PartyOrgStatus(row["party_org_status"]),
        reporting_level=ReportingLevel(row["reporting_level"]),
        sector=row.get("sector") or "",
        alliance_role=AllianceRole(row.get("alliance_role") or AllianceRole.MEMBER),
        effective_from=row.get("effective_from"),
    )
    return await _create(reg, cmd, who)


async def _create(reg: Registry, cmd: object, who: Principal) -> bool:
    try:
        await handle(reg, cmd, who)
    except AlreadyRegistered:
        return False  # registered meanwhile (a concurrent import of the same file)
    return True


class Lookups:
    """The institutions and organisations a member file's rows name, read once per file (keyed by
    USCC and by name) instead of per row: on the embedded store each of those look-ups read the
    whole collection. A member already registered is found by the insert itself (its ID number's
    unique index), not by a look-up."""

    def __init__(self, institutions: list[dict[str, Any]], organizations: list[dict[str, Any]]) -> None:
        self.by_uscc = {i["uscc"]: i for i in institutions if i.get("uscc")}
        self.institutions_named: dict[str, list[dict[str, Any]]] = {}
        for i in institutions:
            self.institutions_named.setdefault(i.get("name", ""), []).append(i)
        self.organizations_named: dict[str, list[dict[str, Any]]] = {}
        for o in organizations:
            self.organizations_named.setdefault(o.get("name", ""), []).append(o)

    @classmethod
    async def read(cls, reg: Registry) -> Lookups:
        fields = {"_id": 1, "uscc": 1, "name": 1}
        institutions = await reg.store.db[INSTITUTIONS].find({}, fields).sort("_id", 1).to_list(None)
        org_fields = {"_id": 1, "name": 1, "institution_id": 1, "institution_ids": 1}
        organizations = await reg.store.db[ORGANIZATIONS].find({}, org_fields).sort("_id", 1).to_list(None)
        return cls(institutions, organizations)

    def institutions(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        if "uscc" in query:
            found = self.by_uscc.get(query["uscc"])
            return [found] if found else []
        return self.institutions_named.get(query["name"], [])[:2]

    def organizations(self, name: str, institution_id: str | None) -> list[dict[str, Any]]:
        named = self.organizations_named.get(name, [])
        return [o for o in named if institution_id is None or institution_id in o.get("institution_ids", [])][:2]


async def _institution_by_ref(
    reg: Registry, ref: str, header: str, lookups: Lookups | None = None
) -> dict[str, Any]:
    """An institution named in a cell by its USCC (preferred) or its exact name."""
    query: dict[str, Any] = {"name": ref}
    try:
        query = {"uscc": normalize_uscc(ref)}
    except Invalid:
        pass
    found = lookups.institutions(query) if lookups else await reg.store.find(INSTITUTIONS, query, limit=2)
    if len(found) != 1:
        raise RowError(
            header,
            (
                "机构不存在 / no such institution"
                if not found
                else "机构名称不唯一，请用统一社会信用代码 / ambiguous name; use the USCC"
            )
            + f": {ref}",
        )
    return found[0]


async def _organization_row(
    reg: Registry, columns: Columns, row: dict[str, Any], who: Principal, lookups: Lookups | None = None
) -> bool:
    header = columns.header("institutions")
    owners = [await _institution_by_ref(reg, ref, header) for ref in split_list(row["institutions"])]
    ids = [o["_id"] for o in owners]
    name = row["name"].strip()
    if await reg.store.find_one(ORGANIZATIONS, {"institution_id": ids[0], "name": name}) is not None:
        return False
    parent_id = None
    if row.get("parent"):
        parent = await reg.store.find_one(
            ORGANIZATIONS, {"institution_ids": ids[0], "name": row["parent"].strip()}
        )
        if parent is None:
            raise RowError(
                columns.header("parent"), f"上级组织不存在 / no such parent organisation: {row['parent']}"
            )
        parent_id = parent["_id"]
    secretary = None
    if row.get("secretary_name") or row.get("secretary_phone") or row.get("secretary_email"):
        secretary = c.ContactDetails(
            name=row.get("secretary_name") or "",
            phone=row.get("secretary_phone"),
            email=row.get("secretary_email"),
        )
    cmd = c.OpenOrganization(
        name=name,
        kind=OrganizationKind(row["kind"]),
        institution_ids=ids,
        parent_id=parent_id,
        established_at=row.get("established_at"),
        secretary=secretary,
    )
    return await _create(reg, cmd, who)


async def _member_row(
    reg: Registry, columns: Columns, row: dict[str, Any], who: Principal, lookups: Lookups | None = None
) -> bool:
    try:
        id_number = normalize_id_number(row["id_number"], today=reg.today())
    except Invalid as exc:
        raise RowError(columns.header("id_number"), exc.message) from None
    if lookups is None and await reg.store.find_one(MEMBERS, {"id_lookup": reg.vault.lookup_hash(id_number)}):
        return False
    query: dict[str, Any] = {"name": row["organization"].strip()}
    if row.get("institution"):
        query["institution_ids"] = (
            await _institution_by_ref(reg, row["institution"], columns.header("institution"), lookups)
        )["_id"]
    elif who.role is Role.INSTITUTION_ADMIN:
        query["institution_ids"] = who.institution_id
    if lookups is not None:
        orgs = lookups.organizations(query["name"], query.get("institution_ids"))
    else:
        orgs = await reg.store.find(ORGANIZATIONS, query, limit=2)
    if len(orgs) != 1:
        raise RowError(
            columns.header("organization"),
            "所在组织不存在 / no such organisation"
            if not orgs
            else "所在组织名称不唯一，请填写所属机构 / ambiguous organisation; fill in 所属机构",
        )
    org = orgs[0]
    institution_id = query.get("institution_ids") or org["institution_id"]
    if who.role is Role.INSTITUTION_ADMIN and institution_id != who.institution_id:
        raise Forbidden("不能导入其他机构的党员 / not your institution", field="institution_id")
    cmd = c.RegisterMember(
        organization_id=org["_id"],
        name=row["name"],
        id_number=id_number,
        status=MemberStatus(row["status"]),
        phone=row.get("phone"),
        joined_at=row.get("joined_at"),
        institution_id=institution_id,
        pocket=bool(row.get("pocket")),
    )
    return await _create(reg, cmd, who)


_ROWS = {
    ImportKind.INSTITUTIONS: _institution_row,
    ImportKind.ORGANIZATIONS: _organization_row,
    ImportKind.MEMBERS: _member_row,
}
