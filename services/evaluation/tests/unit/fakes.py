"""In-memory stand-ins for evaluation's adapters (cosmicpython's `FakeRepository`): what the event
handlers and the unit of work ask of the projections and the read models, kept in dicts, so a
handler is tested in milliseconds without Kafka or the store. The registry writes are built by the
real (pure) builders of `Projections`; applying them records them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from alliance_evaluation.adapters.projections import Projections, RegistryWrite
from alliance_evaluation.domain.ruleset import load_ruleset
from alliance_evaluation.settings import EvaluationSettings
from alliance_evaluation.usecases.unit import EvaluationUnit
from alliance_shared.clock import FixedClock

Doc = dict[str, Any]


class FakeProjections:
    institution_class = staticmethod(Projections.institution_class)
    organization = staticmethod(Projections.organization)
    roll_change = staticmethod(Projections.roll_change)

    def __init__(self) -> None:
        self.applied: list[RegistryWrite] = []
        self.institutions_by_org: dict[str, list[str]] = {}
        self.stored: dict[str, Doc] = {}  # accepted activity events by id
        self.owners: dict[str, set[str]] = {}  # event id → institutions, besides the reporting one
        self.reviews: dict[str, list[Doc]] = {}
        self.rejections: dict[str, Doc] = {}
        self.deliveries: dict[str, Doc] = {}
        self.fail_next_activities = False

    async def apply_registry(self, writes: Sequence[RegistryWrite]) -> None:
        self.applied.extend(writes)

    async def institutions_of_orgs(self, org_ids: list[str]) -> list[str]:
        return sorted({i for o in org_ids for i in self.institutions_by_org.get(o, [])})

    async def activity(self, doc: Doc, supersedes: str | None) -> Doc | None:
        old = self.stored.get(supersedes) if supersedes else None
        self.stored[doc["_id"]] = doc
        return old

    async def activities(self, docs: list[Doc]) -> None:
        if self.fail_next_activities:
            self.fail_next_activities = False
            raise ConnectionError("the store is away")
        self.stored.update({d["_id"]: d for d in docs})

    async def owners_of_activities(self, docs: list[Doc]) -> dict[str, set[str]]:
        return {d["_id"]: {d["institution_id"], *self.owners.get(d["_id"], set())} for d in docs}

    async def review(self, event_id: str, state: str, version: int, step: Doc) -> Doc | None:
        doc = self.stored.get(event_id)
        if doc is None:
            return None
        self.reviews.setdefault(event_id, []).append(step)
        doc["review_state"] = state
        return doc

    async def rejection(self, doc: Doc) -> None:
        self.rejections[doc["_id"]] = doc

    async def delivery(self, delivery_id: str, fields: Doc, entry: Doc) -> None:
        stored = self.deliveries.setdefault(delivery_id, {"history": []})
        stored.update(fields)
        if all(h["event_id"] != entry["event_id"] for h in stored["history"]):
            stored["history"].append(entry)


class FakeAuditTrail:
    def __init__(self) -> None:
        self.records: dict[str, Doc] = {}

    async def write(self, doc: Mapping[str, Any]) -> bool:
        if doc["_id"] in self.records:
            return False
        self.records[doc["_id"]] = dict(doc)
        return True


class FakeReadModels:
    def __init__(self, closed: Mapping[str, datetime] | None = None) -> None:
        self.closed = dict(closed or {})
        self.periods: dict[str, Doc] = {}
        self.late: list[tuple[str, str]] = []
        self.dirty: dict[str, set[str]] = {}
        self.unlocked: dict[str, set[str]] = {}
        self.dirty_writes = 0
        self.trail = FakeAuditTrail()
        self.scores: dict[tuple[str, str, str], Doc] = {}
        self.collections: dict[str, dict[str, Doc]] = {}  # ratings, adjustments, appeals, exemptions

    async def closed_periods(self) -> dict[str, datetime]:
        return dict(self.closed)

    async def record_late(self, period: str, event_id: str, at: datetime) -> None:
        self.late.append((period, event_id))

    async def period(self, period: str) -> Doc | None:
        return self.periods.get(period)

    async def score(self, period: str, object_type: str, object_id: str) -> Doc | None:
        return self.scores.get((period, object_type, object_id))

    async def save_rating(self, doc: Doc) -> None:
        self.collections.setdefault("ratings", {})[doc["_id"]] = dict(doc)

    async def insert(self, collection: str, doc: Doc) -> None:
        self.collections.setdefault(collection, {})[doc["_id"]] = dict(doc)

    async def get(self, collection: str, doc_id: str) -> Doc | None:
        found = self.collections.get(collection, {}).get(doc_id)
        return dict(found) if found is not None else None

    async def decide(self, collection: str, doc_id: str, expected_status: str, fields: Doc) -> Doc | None:
        doc = self.collections.get(collection, {}).get(doc_id)
        if doc is None or doc.get("status") != expected_status:
            return None
        doc.update(fields)
        return dict(doc)

    async def mark_dirty(self, period: str, institution_ids: Sequence[str], at: datetime) -> None:
        await self.mark_dirty_many({period: set(institution_ids)}, at)

    async def mark_dirty_many(self, pairs: Mapping[str, set[str]], at: datetime, *, unlocked: bool = False) -> None:
        self.dirty_writes += 1
        target = self.unlocked if unlocked else self.dirty
        for period, ids in pairs.items():
            target.setdefault(period, set()).update(ids)


class FakeUnlockStore:
    """The unlock exceptions on each period's document, written only at the version read."""

    def __init__(self, periods: dict[str, Doc]) -> None:
        self.periods = periods  # the read models' periods: the same documents
        self.events: list[Any] = []

    async def of_period(self, period: str) -> tuple[Doc | None, list[Doc], int]:
        doc = self.periods.get(period)
        if doc is None:
            return None, [], 0
        return doc, list(doc.get("unlocks") or []), int(doc.get("unlocks_version") or 0)

    async def write(self, period: str, version_was: int, unlocks: list[Doc], events: Sequence[Any]) -> bool:
        doc = self.periods.get(period)
        if doc is None or doc.get("status") != "closed" or int(doc.get("unlocks_version") or 0) != version_was:
            return False
        doc.update(unlocks=[dict(u) for u in unlocks], unlocks_version=version_was + 1)
        self.events.extend(events)
        return True


def unit(now: datetime = datetime(2026, 11, 16, 2, 0, tzinfo=UTC), **settings: Any) -> EvaluationUnit:
    """A unit of work over the fakes, standing on `now` (mid-Q4 2026 unless told)."""
    models = FakeReadModels()
    return EvaluationUnit(
        FakeProjections(),  # type: ignore[arg-type]
        models,  # type: ignore[arg-type]
        load_ruleset("2026.1"),
        FixedClock(now),
        EvaluationSettings(environment="test", **settings),
        unlocks=FakeUnlockStore(models.periods),  # type: ignore[arg-type]
    )
