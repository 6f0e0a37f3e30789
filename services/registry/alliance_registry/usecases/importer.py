"""Bulk import of institutions, organisations or members from a spreadsheet: each row becomes the
same command the API would send; bad rows are reported (row, field, reason), good rows kept, and a
row whose natural key (USCC; institution + organisation name; ID number) is already registered is
left unchanged — so importing the same file twice changes nothing.

Rows are taken in chunks. The institutions and organisations a chunk names are read with one `$in`
each (and remembered for the rest of the file); a chunk's new documents go in one unordered insert
with their events (an organisation tree in a wave per level: parents, then children), whose
duplicate-key refusals are the rows registered meanwhile by someone else. A member roster's chunk
costs one more read: the ID numbers already registered; it is stored while the next chunk is
checked. Every import has a status document (`ImportJob`) carrying its progress, so a caller can
draw a bar."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterator, Sequence
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

from ..adapters.spreadsheets import read_sheet
from ..adapters.store import INSTITUTIONS, MEMBERS, ORGANIZATIONS
from ..domain import commands
from ..domain.identifiers import normalize_id_number, normalize_uscc
from ..domain.imports import Columns, ImportKind, RowError, map_headers, read_row, split_list
from .context import RegistryUnit
from .import_jobs import ImportJob, ImportReport
from .institutions import new_institution
from .members import new_member
from .organizations import new_organization

Doc = dict[str, Any]
Rows = Sequence[tuple[int, dict[str, Any]]]

_running: set[asyncio.Task[None]] = set()  # imports answered before they finished


def may_import(who: Principal, kind: ImportKind) -> bool:
    return not who.is_machine and (
        who.is_secretariat or (who.role is Role.INSTITUTION_ADMIN and kind is not ImportKind.INSTITUTIONS)
    )


async def import_file(
    reg: RegistryUnit, kind: ImportKind, content: bytes, filename: str, who: Principal, *, wait: bool = True
) -> Doc:
    """Import the file; with `wait` the answer is the finished report, otherwise the job as it has
    just started (its progress then read with `import_status`). A bad file is refused at once."""
    if not may_import(who, kind):
        raise await reg.deny(who, f"import.{kind}", "imports")
    sheet = read_sheet(content, filename, max_rows=reg.settings.import_max_rows)
    try:
        columns = map_headers(kind, sheet.headers)
    except RowError as exc:
        raise Invalid(exc.reason, field=exc.field) from None
    job = ImportJob(reg, ImportReport(kind.value, rows=len(sheet.rows)), who, filename)
    await job.start()
    work = _run(job, kind, columns, sheet.rows)
    if wait:
        await work
    else:
        task = asyncio.create_task(work, name=f"import:{job.id}")
        _running.add(task)
        task.add_done_callback(_running.discard)
    return job.answer()


async def _run(job: ImportJob, kind: ImportKind, columns: Columns, rows: Rows) -> None:
    try:
        await _IMPORTS[kind](job, columns, rows)
    except BaseException as exc:
        # what was stored is kept (each chunk is its own insert); the job says where it stopped
        await asyncio.shield(job.finish(error=f"导入中断 / import stopped: {type(exc).__name__}"))
        raise
    await job.finish()


def _chunks(rows: Rows, size: int) -> Iterator[Rows]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


# -- what a file names: institutions and organisations, read once per name ------------------------
@functools.lru_cache(maxsize=4096)  # a roster names its few institutions on every row: checking
def _institution_query(ref: str) -> tuple[str, str]:  # the USCC each time was 20 % of the import's CPU
    """A cell naming an institution: by its USCC when it is one, else by its exact name."""
    try:
        return "uscc", normalize_uscc(ref)
    except Invalid:
        return "name", ref


class Directory:
    """The institutions and organisations the file's rows name, read with one `$in` per chunk for the
    names not seen before (by USCC, institution name and organisation name), then kept for the rest
    of the file; organisations the import opens are added as they are."""

    def __init__(self, reg: RegistryUnit) -> None:
        self.reg = reg
        self._institutions: dict[tuple[str, str], list[Doc]] = {}
        self._organizations: dict[str, list[Doc]] = {}
        # name -> institution -> the organisations of that name covering it, built on first use: a
        # city's 3,000 institutions each have a "第一党支部", and filtering them all for every row was
        # the import's largest line of its own
        self._covering: dict[str, dict[str, list[Doc]]] = {}

    async def learn(self, institution_refs: Sequence[str], organization_names: Sequence[str]) -> None:
        wanted: dict[str, set[str]] = {"uscc": set(), "name": set()}
        for ref in institution_refs:
            by, value = _institution_query(ref)
            if (by, value) not in self._institutions:
                wanted[by].add(value)
        for by, values in wanted.items():
            if not values:
                continue
            found = await self.reg.store.find_in(INSTITUTIONS, by, sorted(values), ("_id", "uscc", "name"))
            for value in values:
                self._institutions[(by, value)] = []
            for doc in sorted(found, key=lambda d: d["_id"]):
                self._institutions[(by, doc[by])].append(doc)
        names = sorted({n for n in organization_names if n not in self._organizations})
        fields = ("_id", "name", "institution_id", "institution_ids", "kind", "closed_at")
        if not names:
            return
        for name in names:
            self._organizations[name] = []
        for doc in sorted(await self.reg.store.find_in(ORGANIZATIONS, "name", names, fields), key=lambda d: d["_id"]):
            self._organizations[doc["name"]].append(doc)

    def institution(self, ref: str, header: str) -> Doc:
        found = self._institutions.get(_institution_query(ref), [])
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

    def organizations(self, name: str, *, covering: str | None = None, owned_by: str | None = None) -> list[Doc]:
        """The organisations named `name` (oldest first), covering that institution, owned by that one."""
        if covering is None:
            candidates = self._organizations.get(name, [])
        else:
            by_institution = self._covering.get(name)
            if by_institution is None:
                by_institution = self._covering[name] = {}
                for o in self._organizations.get(name, []):
                    for institution_id in o["institution_ids"]:
                        by_institution.setdefault(institution_id, []).append(o)
            candidates = by_institution.get(covering, [])
        return [o for o in candidates if owned_by is None or o["institution_id"] == owned_by]

    def opened(self, doc: Doc) -> None:
        self._organizations.setdefault(doc["name"], []).append(doc)
        self._covering.pop(doc["name"], None)

    async def relearn(self, refused: Sequence[Doc]) -> None:
        """Forget `refused` (their names were opened meanwhile by another) and read those names again."""
        names = {d["name"] for d in refused}
        for name in names:
            self._organizations.pop(name, None)
            self._covering.pop(name, None)
        await self.learn((), sorted(names))


# -- institutions ----------------------------------------------------------------------------------
async def _institutions(job: ImportJob, columns: Columns, rows: Rows) -> None:
    """A chunk's new institutions in one unordered insert with their events."""
    reg, report = job.reg, job.report
    registered: set[str] = set()
    for chunk in _chunks(rows, reg.settings.import_chunk_rows):
        parsed: list[tuple[int, dict[str, Any], str]] = []
        for number, raw in chunk:
            try:
                row = read_row(columns, raw)
                parsed.append((number, row, normalize_uscc(row["uscc"])))
            except (RowError, DomainError) as exc:
                report.reject(number, columns, _blamed_on(exc, columns, "uscc"))
        usccs = [u for _, _, u in parsed]
        registered |= {d["uscc"] for d in await reg.store.find_in(INSTITUTIONS, "uscc", usccs, ("uscc",))}
        new: list[tuple[Doc, list[Any]]] = []
        for number, row, uscc in parsed:
            if uscc in registered:
                report.unchanged += 1  # registered before, or a row above in the file
                continue
            try:
                doc, event = new_institution(reg, _registration(row, uscc))
            except DomainError as exc:
                report.reject(number, columns, exc)
                continue
            registered.add(uscc)
            new.append((doc, [event]))
        taken = await reg.store.insert_new(INSTITUTIONS, new, reporting_level="reporting_level")
        report.created += len(new) - len(taken)
        report.unchanged += len(taken)  # registered meanwhile by someone else
        await job.advance()
    _in_row_order(report)


def _registration(row: dict[str, Any], uscc: str) -> commands.RegisterInstitution:
    contact = None
    if row.get("contact_name") or row.get("contact_phone") or row.get("contact_email"):
        contact = commands.ContactDetails(
            name=row.get("contact_name") or "", phone=row.get("contact_phone"), email=row.get("contact_email")
        )
    return commands.RegisterInstitution(
        uscc=uscc,
        name=row["name"],
        ownership=Ownership(row["ownership"]),
        party_org_status=PartyOrgStatus(row["party_org_status"]),
        reporting_level=ReportingLevel(row["reporting_level"]),
        sector=row.get("sector") or "",
        alliance_role=AllianceRole(row.get("alliance_role") or AllianceRole.MEMBER),
        effective_from=row.get("effective_from"),
        contact=contact,
    )


def _blamed_on(exc: Exception, columns: Columns, field_name: str) -> Exception:
    """An identifier's `Invalid` as the error of its column."""
    if isinstance(exc, Invalid) and not isinstance(exc, RowError):
        return RowError(columns.header(field_name), exc.message)
    return exc


def _in_row_order(report: ImportReport) -> None:
    report.rejected.sort(key=lambda r: r["row"])


# -- organisations ---------------------------------------------------------------------------------
async def _organizations(job: ImportJob, columns: Columns, rows: Rows) -> None:
    """A chunk's organisations in waves: first those whose parent is stored already (or who have
    none), then the children of those, and so on (a tree is three or four deep), each wave one
    unordered insert. A row may so name a parent anywhere in its chunk."""
    reg, report = job.reg, job.report
    directory = Directory(reg)
    for chunk in _chunks(rows, reg.settings.import_chunk_rows):
        parsed: list[tuple[int, dict[str, Any]]] = []
        for number, raw in chunk:
            try:
                parsed.append((number, read_row(columns, raw)))
            except RowError as exc:
                report.reject(number, columns, exc)
        await directory.learn(
            [ref for _, row in parsed for ref in split_list(row["institutions"])],
            [n.strip() for _, row in parsed for n in (row["name"], row.get("parent") or "") if n.strip()],
        )
        todo: Rows = parsed
        while todo:
            wave, todo = _wave(todo, directory)
            await _open_wave(job, columns, wave, directory)
        await job.advance()
    _in_row_order(report)


def _wave(rows: Rows, directory: Directory) -> tuple[Rows, Rows]:
    """The rows whose parent is known (or absent), and the rest: those naming as parent a row
    still to open. A parent named by no row left fails in the wave as `no such parent`."""
    waiting = {row["name"].strip() for _, row in rows}
    ready: list[tuple[int, dict[str, Any]]] = []
    later: list[tuple[int, dict[str, Any]]] = []
    for number, row in rows:
        parent = (row.get("parent") or "").strip()
        blocked = parent and parent != row["name"].strip() and parent in waiting and not directory.organizations(parent)
        (later if blocked else ready).append((number, row))
    return (ready, later) if ready else (later, [])  # a cycle: let its rows fail


async def _open_wave(job: ImportJob, columns: Columns, wave: Rows, directory: Directory) -> None:
    reg, report = job.reg, job.report
    header = columns.header("institutions")
    new: list[tuple[Doc, list[Any]]] = []
    for number, row in wave:
        try:
            ids = [directory.institution(ref, header)["_id"] for ref in split_list(row["institutions"])]
            name = row["name"].strip()
            if directory.organizations(name, owned_by=ids[0]):
                report.unchanged += 1  # registered before, or a row above in the file
                continue
            cmd, parent = _opening(columns, row, ids, name, directory)
            doc, event = await new_organization(reg, cmd, job.who, parent)
        except (RowError, DomainError) as exc:
            report.reject(number, columns, exc)
            continue
        directory.opened(doc)
        new.append((doc, [event]))
    taken = await reg.store.insert_new(ORGANIZATIONS, new)  # taken: opened meanwhile by someone else
    report.created += len(new) - len(taken)
    report.unchanged += len(taken)
    if taken:  # the next wave's children hang under the organisations stored, not the refused
        await directory.relearn([new[i][0] for i in taken])


def _opening(
    columns: Columns, row: dict[str, Any], ids: list[str], name: str, directory: Directory
) -> tuple[commands.OpenOrganization, Doc | None]:
    parent = None
    if row.get("parent"):
        parents = directory.organizations(row["parent"].strip(), covering=ids[0])
        if not parents:
            raise RowError(columns.header("parent"), f"上级组织不存在 / no such parent organisation: {row['parent']}")
        parent = parents[0]
    secretary = None
    if row.get("secretary_name") or row.get("secretary_phone") or row.get("secretary_email"):
        secretary = commands.ContactDetails(
            name=row.get("secretary_name") or "",
            phone=row.get("secretary_phone"),
            email=row.get("secretary_email"),
        )
    cmd = commands.OpenOrganization(
        name=name,
        kind=OrganizationKind(row["kind"]),
        institution_ids=ids,
        parent_id=parent["_id"] if parent else None,
        established_at=row.get("established_at"),
        secretary=secretary,
    )
    return cmd, parent


# -- members: the roster, the fast path ------------------------------------------------------------
async def _members(job: ImportJob, columns: Columns, rows: Rows) -> None:
    """A chunk's new members in one unordered insert with their events, stored while the next
    chunk is read and checked (the store's work and the checks overlap: a chunk's checks and
    sealing take about as long as its insert)."""
    reg, report = job.reg, job.report
    directory = Directory(reg)
    registered: set[str] = set()  # ID numbers' lookup hashes registered before, or by a row above
    storing: asyncio.Task[None] | None = None  # the previous chunk's insert

    async def store(new: list[tuple[Doc, Any]]) -> None:
        taken = await reg.store.insert_new(MEMBERS, new)  # taken: registered meanwhile by someone else
        report.created += len(new) - len(taken)
        report.unchanged += len(taken)
        await job.advance()

    try:
        for chunk in _chunks(rows, reg.settings.import_chunk_rows):
            parsed: list[tuple[int, dict[str, Any], str]] = []
            for number, raw in chunk:
                try:
                    row = read_row(columns, raw)
                    parsed.append((number, row, normalize_id_number(row["id_number"], today=reg.today())))
                except (RowError, DomainError) as exc:
                    report.reject(number, columns, _blamed_on(exc, columns, "id_number"))
            await directory.learn(
                [row["institution"] for _, row, _ in parsed if row.get("institution")],
                [row["organization"].strip() for _, row, _ in parsed],
            )
            hashes = {n: reg.vault.lookup_hash(n) for _, _, n in parsed}
            unseen = [h for h in hashes.values() if h not in registered]
            found = await reg.store.find_in(MEMBERS, "id_lookup", unseen, ("id_lookup",))
            registered |= {d["id_lookup"] for d in found}
            new: list[tuple[Doc, Any]] = []
            for number, row, id_number in parsed:
                if hashes[id_number] in registered:
                    report.unchanged += 1
                    continue
                try:
                    org, cmd = _member_of(columns, row, id_number, job.who, directory)
                    doc, event = new_member(reg, org, cmd, id_lookup=hashes[id_number])
                except (RowError, DomainError) as exc:
                    report.reject(number, columns, exc)
                    continue
                registered.add(hashes[id_number])  # the same person twice in the file: the first row counts
                new.append((doc, [event]))
            if storing is not None:
                await storing
            storing = asyncio.create_task(store(new), name=f"import:{job.id}:store")
        if storing is not None:
            await storing
    finally:
        if storing is not None and not storing.done():  # stopped early: what is on its way is kept
            with contextlib.suppress(Exception):
                await asyncio.shield(storing)
    _in_row_order(report)


def _member_of(
    columns: Columns, row: dict[str, Any], id_number: str, who: Principal, directory: Directory
) -> tuple[Doc, commands.RegisterMember]:
    institution_id: str | None = None
    if row.get("institution"):
        institution_id = directory.institution(row["institution"], columns.header("institution"))["_id"]
    elif who.role is Role.INSTITUTION_ADMIN:
        institution_id = who.institution_id
    orgs = directory.organizations(row["organization"].strip(), covering=institution_id)[:2]
    if len(orgs) != 1:
        raise RowError(
            columns.header("organization"),
            "所在组织不存在 / no such organisation"
            if not orgs
            else "所在组织名称不唯一，请填写所属机构 / ambiguous organisation; fill in 所属机构",
        )
    org = orgs[0]
    institution_id = institution_id or org["institution_id"]
    if who.role is Role.INSTITUTION_ADMIN and institution_id != who.institution_id:
        raise Forbidden("不能导入其他机构的党员 / not your institution", field="institution_id")
    cmd = commands.RegisterMember(
        organization_id=org["_id"],
        name=row["name"],
        id_number=id_number,
        status=MemberStatus(row["status"]),
        phone=row.get("phone"),
        joined_at=row.get("joined_at"),
        institution_id=institution_id,
        pocket=bool(row.get("pocket")),
    )
    return org, cmd


_IMPORTS = {
    ImportKind.INSTITUTIONS: _institutions,
    ImportKind.ORGANIZATIONS: _organizations,
    ImportKind.MEMBERS: _members,
}
