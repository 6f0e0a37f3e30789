"""Connecting to the store and declaring indexes at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError


class StoreError(Exception):
    """The store refused an operation; `field` names the unique key at fault when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class IndexSpec:
    """An index to exist on a collection: keys in order, 1 or -1 each."""

    collection: str
    keys: Sequence[tuple[str, int]]
    unique: bool = False
    name: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def connect(uri: str, *, app_name: str = "alliance") -> AsyncMongoClient[dict[str, Any]]:
    """A client for `uri`; connecting happens lazily on first use (nothing connects at import)."""
    return AsyncMongoClient(uri, appname=app_name, tz_aware=True, serverSelectionTimeoutMS=5000,
                            uuidRepresentation="standard")


async def ping(db: AsyncDatabase[dict[str, Any]], timeout_s: float = 3.0) -> bool:
    try:
        await asyncio.wait_for(db.command("ping"), timeout=timeout_s)
        return True
    except (PyMongoError, TimeoutError):
        return False


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]], specs: Sequence[IndexSpec]) -> None:
    """Create every index that is missing; idempotent, run at each start-up."""
    for spec in specs:
        name = spec.name or "_".join(f"{k}_{d}" for k, d in spec.keys)
        await db[spec.collection].create_index(list(spec.keys), unique=spec.unique, name=name,
                                               **dict(spec.options))


# How the embedded store words a unique-index violation it answers with code 1 (InternalError)
# instead of 11000: an update that breaks a unique index, on FerretDB 1.24's PostgreSQL backend
# ("duplicate key value violates unique constraint") and its SQLite one.
_CODE_1_DUPLICATE = ("duplicate key", "UNIQUE constraint failed")


def is_duplicate_key(error: BaseException | Mapping[str, Any]) -> bool:
    """True for a unique-index violation, however the server reports it: an exception, or one
    entry of a `BulkWriteError`'s `writeErrors`. MongoDB answers code 11000; FerretDB answers an
    update that breaks a unique index with code 1 and says "duplicate key" in the message."""
    if isinstance(error, DuplicateKeyError):
        return True
    if isinstance(error, Mapping):
        code, message = error.get("code"), str(error.get("errmsg") or "")
    elif isinstance(error, OperationFailure):
        code, message = error.code, str((error.details or {}).get("errmsg") or error)
    else:
        return False
    return code == 11000 or (code == 1 and any(m in message for m in _CODE_1_DUPLICATE))


def duplicate_indexes(exc: BulkWriteError) -> set[int]:
    """The positions, in the batch sent, of the writes a bulk write refused as duplicate keys;
    re-raises `exc` when any other write failed."""
    errors = exc.details.get("writeErrors", [])
    if any(not is_duplicate_key(e) for e in errors) or exc.details.get("writeConcernErrors"):
        raise exc
    return {int(e["index"]) for e in errors}


def is_transient(exc: BaseException) -> bool:
    """True when the store could not be reached or did not answer in time (a restart, a
    failover, a network blip): the same command may succeed a moment later."""
    return isinstance(exc, ConnectionFailure)


def duplicate_key_field(exc: BaseException) -> str | None:
    """The first field of the violated unique key, when the server says which."""
    details = getattr(exc, "details", None) or {}
    key_value = details.get("keyValue") if isinstance(details, dict) else None
    if isinstance(key_value, dict) and key_value:
        return str(next(iter(key_value)))
    return None
