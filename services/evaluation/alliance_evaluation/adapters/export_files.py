"""The workbooks export jobs made, kept for their requester to download: one document per job (the
XLSX bytes, its file name, who asked), removed `keep` after it was made, when the next one is
saved. A workbook of the city's 30,000 branches is a few MB, well inside a document's 16 MB."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from alliance_shared.mongo import IndexSpec
from bson import Binary
from pymongo.asynchronous.database import AsyncDatabase

Doc = dict[str, Any]
COLLECTION = "export_files"
INDEXES = [IndexSpec(COLLECTION, [("created_at", 1)])]  # the removal of those past their time


class ExportFiles:
    def __init__(self, db: Callable[[], AsyncDatabase[Doc]], keep: timedelta) -> None:
        self._db = db
        self.keep = keep

    async def save(self, file_id: str, body: bytes, name: str, requested_by: str, now: datetime) -> None:
        col = self._db()[COLLECTION]
        await col.delete_many({"created_at": {"$lt": now - self.keep}})
        doc = {"body": Binary(body), "name": name, "requested_by": requested_by, "created_at": now}
        await col.replace_one({"_id": file_id}, doc, upsert=True)  # a job run again replaces its file

    async def get(self, file_id: str) -> Doc | None:
        return await self._db()[COLLECTION].find_one({"_id": file_id})
