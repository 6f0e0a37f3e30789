"""An in-memory stand-in for the registry's store (`adapters.store.RegistryStore`, cosmicpython's
`FakeRepository`): the same methods over dicts, the unique keys taken from the store's own index
list, and every event a write carries kept beside it, so a command is tested without the store.
Queries and updates are the few shapes the use cases send (equality on dotted paths, an array
holding a value, `$in`, `$ne`, `$gt`, `$lt`; `$set`, `$push`, `$inc`)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from alliance_registry.adapters.store import AUDIT, INDEXES, DuplicateKey
from alliance_shared.contracts.base import EventPayload

Doc = dict[str, Any]
MISSING = object()


def _get(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, Mapping) or part not in doc:
            return MISSING
        doc = doc[part]
    return doc


def _equal(value: Any, wanted: Any) -> bool:
    if wanted is None:
        return value is MISSING or value is None
    if isinstance(value, list) and not isinstance(wanted, list):
        return wanted in value
    return bool(value == wanted)


def _holds(value: Any, condition: Any) -> bool:
    if not (isinstance(condition, Mapping) and condition and all(k.startswith("$") for k in condition)):
        return _equal(value, condition)
    for op, operand in condition.items():
        present = [] if value is MISSING else value if isinstance(value, list) else [value]
        if op == "$in":
            ok = any(v in operand for v in present) or (None in operand and value in (MISSING, None))
        elif op == "$ne":
            ok = not _equal(value, operand)
        elif op == "$gt":
            ok = any(v is not None and v > operand for v in present)
        elif op == "$lt":
            ok = any(v is not None and v < operand for v in present)
        else:
            raise NotImplementedError(f"the fake store does not know {op}")
        if not ok:
            return False
    return True


def matches(doc: Doc, query: Mapping[str, Any]) -> bool:
    return all(_holds(_get(doc, path), condition) for path, condition in query.items())


def _set(doc: Doc, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[leaf] = value


def apply(doc: Doc, update: Mapping[str, Any]) -> None:
    for op, fields in update.items():
        for path, value in fields.items():
            if op == "$set":
                _set(doc, path, copy.deepcopy(value))
            elif op == "$push":
                current = _get(doc, path)
                _set(doc, path, [*([] if current is MISSING else current), copy.deepcopy(value)])
            elif op == "$inc":
                current = _get(doc, path)
                _set(doc, path, (0 if current is MISSING else current) + value)
            else:
                raise NotImplementedError(f"the fake store does not know {op}")


class FakeRegistryStore:
    def __init__(self) -> None:
        self.collections: dict[str, dict[str, Doc]] = {}
        self.events: list[EventPayload] = []  # every event a write carried, in order
        self.unique = [(ix.collection, [k for k, _ in ix.keys]) for ix in INDEXES if ix.unique]

    def _col(self, name: str) -> dict[str, Doc]:
        return self.collections.setdefault(name, {})

    def _taken(self, collection: str, doc: Doc, but: str | None = None) -> bool:
        for name, keys in self.unique:
            if name != collection:
                continue
            key = [_get(doc, k) for k in keys]
            if MISSING in key:
                continue
            if any(other["_id"] != but and [_get(other, k) for k in keys] == key
                   for other in self._col(collection).values()):
                return True
        return False

    async def insert(self, collection: str, doc: Mapping[str, Any], events: Sequence[EventPayload] = (),
                     *, reporting_level: str | None = None) -> Doc:
        full = {**copy.deepcopy(dict(doc)), "version": 1}
        if full["_id"] in self._col(collection) or self._taken(collection, full):
            raise DuplicateKey(collection)
        self._col(collection)[full["_id"]] = full
        self.events.extend(events)
        return copy.deepcopy(full)

    async def insert_new(self, collection: str, docs: Sequence[tuple[Mapping[str, Any], Sequence[EventPayload]]],
                         *, reporting_level: str | None = None) -> set[int]:
        refused = set()
        for n, (doc, events) in enumerate(docs):
            try:
                await self.insert(collection, doc, events)
            except DuplicateKey:
                refused.add(n)
        return refused

    async def find_in(
        self, collection: str, field: str, values: Iterable[Any], fields: Sequence[str] = ()
    ) -> list[Doc]:
        wanted = {field: {"$in": list(values)}}
        return [copy.deepcopy(d) for d in self._col(collection).values() if matches(d, wanted)]

    async def update(self, collection: str, query: Mapping[str, Any], update: Mapping[str, Any],
                     events: Sequence[EventPayload] = (), *, reporting_level: str | None = None) -> Doc | None:
        found = next((d for d in self._col(collection).values() if matches(d, query)), None)
        if found is None:
            return None
        changed = copy.deepcopy(found)
        apply(changed, {**update, "$inc": {**update.get("$inc", {}), "version": 1}})
        if self._taken(collection, changed, but=changed["_id"]):
            raise DuplicateKey(collection)
        self._col(collection)[changed["_id"]] = changed
        self.events.extend(events)
        return copy.deepcopy(changed)

    async def get(self, collection: str, doc_id: str) -> Doc | None:
        found = self._col(collection).get(doc_id)
        return copy.deepcopy(found) if found is not None else None

    async def find_one(self, collection: str, query: Mapping[str, Any]) -> Doc | None:
        found = next((d for d in self._col(collection).values() if matches(d, query)), None)
        return copy.deepcopy(found) if found is not None else None

    async def find(self, collection: str, query: Mapping[str, Any], *, sort: str = "_id", skip: int = 0,
                   limit: int = 0) -> list[Doc]:
        found = sorted((d for d in self._col(collection).values() if matches(d, query)),
                       key=lambda d: str(_get(d, sort)))
        found = found[skip:]
        return [copy.deepcopy(d) for d in (found[:limit] if limit else found)]

    async def count(self, collection: str, query: Mapping[str, Any]) -> int:
        return sum(1 for d in self._col(collection).values() if matches(d, query))

    async def audit(self, record: Any) -> None:
        self._col(AUDIT)[record.audit_id] = record.model_dump()
        self.events.append(record)

    async def record(self, collection: str, doc: Mapping[str, Any]) -> None:
        self._col(collection)[doc["_id"]] = copy.deepcopy(dict(doc))

    async def note(self, collection: str, doc_id: str, fields: Mapping[str, Any]) -> None:
        self._col(collection)[doc_id].update(copy.deepcopy(dict(fields)))

    def announced(self, kind: type[EventPayload]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]
