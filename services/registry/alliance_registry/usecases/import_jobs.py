"""An import's status document and its report: how far it got while it runs (processed / total,
rows a second), every row's answer once it is done, and who may read it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import DomainError

from ..adapters.store import IMPORTS
from ..domain.errors import UnknownImport
from ..domain.imports import Columns, RowError
from .context import RegistryUnit, new_id

Doc = dict[str, Any]

# a command's field (as its errors name it) -> the import field whose column to blame
_BLAME = {
    "institution_ids": "institutions",
    "parent_id": "parent",
    "organization_id": "organization",
    "institution_id": "institution",
    "secretary.phone": "secretary_phone",
    "secretary.email": "secretary_email",
    "secretary.name": "secretary_name",
    "contact.phone": "contact_phone",
    "contact.email": "contact_email",
    "contact.name": "contact_name",
}
_NOTE_EVERY_S = 0.5  # progress is written at the end of a chunk, at most this often (and at the end)


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.created + self.unchanged + len(self.rejected)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "created": self.created,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }

    def reject(self, number: int, columns: Columns, exc: Exception) -> None:
        if isinstance(exc, RowError):
            self.rejected.append({"row": number, "field": exc.field, "reason": exc.reason})
        elif isinstance(exc, DomainError):
            blamed = _BLAME.get(exc.field or "", exc.field or "")
            header = columns.header(blamed) if blamed else None
            self.rejected.append({"row": number, "field": header, "reason": exc.message})
        else:
            raise exc


class ImportJob:
    """The import's status document: who started it, how far it got (processed / total, rows a
    second), and at the end its report. Written at the start, after chunks, and at the end."""

    def __init__(self, reg: RegistryUnit, report: ImportReport, who: Principal, filename: str) -> None:
        self.reg = reg
        self.report = report
        self.id = new_id("imp")
        self.who = who
        self.filename = filename
        self.status = "running"
        self._started = time.monotonic()
        self._noted = self._started

    def progress(self) -> Doc:
        elapsed = time.monotonic() - self._started
        done = self.report.processed
        return {
            "processed": done,
            "total": self.report.rows,
            "rate": round(done / elapsed, 1) if elapsed > 0 else 0.0,  # rows a second so far
            "elapsed_s": round(elapsed, 3),
        }

    def answer(self) -> Doc:
        return {"id": self.id, "status": self.status, **self.report.as_dict(), "progress": self.progress()}

    def _counts(self) -> Doc:
        r = self.report
        return {"status": self.status, "progress": self.progress(), "created": r.created,
                "unchanged": r.unchanged, "rejected_rows": len(r.rejected), "updated_at": self.reg.now()}

    async def start(self) -> None:
        await self.reg.store.record(IMPORTS, {
            "_id": self.id, "kind": self.report.kind, "filename": self.filename, "rows": self.report.rows,
            "started_by": self.who.subject, "role": self.who.role.value if self.who.role else None,
            "institution_id": self.who.institution_id, "started_at": self.reg.now(),
            "finished_at": None, "rejected": [], "error": None, **self._counts(),
        })

    async def advance(self) -> None:
        if time.monotonic() - self._noted >= _NOTE_EVERY_S:
            self._noted = time.monotonic()
            await self.reg.store.note(IMPORTS, self.id, self._counts())

    async def finish(self, error: str | None = None) -> None:
        self.status = "failed" if error else "done"
        await self.reg.store.note(IMPORTS, self.id, {
            **self._counts(), "rejected": self.report.rejected, "finished_at": self.reg.now(), "error": error,
        })


async def import_status(reg: RegistryUnit, import_id: str, who: Principal) -> Doc:
    """An import's status document: progress while it runs, the report once done. Its starter, the
    secretariat and the admins of the starter's institution may read it."""
    doc = await reg.store.get(IMPORTS, import_id)
    if doc is None:
        raise UnknownImport()
    if not (
        who.is_secretariat
        or (not who.is_machine and who.subject == doc["started_by"] and who.institution_id == doc["institution_id"])
        or (who.role is Role.INSTITUTION_ADMIN and who.institution_id and who.institution_id == doc["institution_id"])
    ):
        raise await reg.deny(who, "import.read", import_id, "import_id")
    return {
        "id": doc["_id"], "status": doc["status"], "kind": doc["kind"], "filename": doc["filename"],
        "rows": doc["rows"], "created": doc["created"], "unchanged": doc["unchanged"],
        "rejected": doc["rejected"], "rejected_rows": doc["rejected_rows"], "progress": doc["progress"],
        "started_at": doc["started_at"], "finished_at": doc["finished_at"], "error": doc["error"],
    }
