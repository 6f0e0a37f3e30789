"""Optimistic concurrency: documents updated by more than one handler carry a `version`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection


class VersionConflict(Exception):
    """Someone else updated the document since it was read; reload and decide again."""


async def update_versioned(collection: AsyncCollection[dict[str, Any]], doc_id: Any, expected_version: int,
                           update: Mapping[str, Any]) -> dict[str, Any]:
    """Apply `update` only if the document is still at `expected_version`; bump the version.

    Returns the updated document; raises `VersionConflict` when another writer won."""
    merged: dict[str, Any] = {k: dict(v) for k, v in update.items()}
    merged.setdefault("$inc", {})["version"] = 1
    result = await collection.find_one_and_update(
        {"_id": doc_id, "version": expected_version}, merged, return_document=ReturnDocument.AFTER)
    if result is None:
        raise VersionConflict(f"{collection.name}/{doc_id} is no longer at version {expected_version}")
    return result
