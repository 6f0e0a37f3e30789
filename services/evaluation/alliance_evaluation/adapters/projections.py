"""The projections evaluation builds from other services' events (its own copy; it never reads
another service's database): institutions with effective-dated classes, the organisation tree with
open/close dates and last meeting, member roll changes, activity events (a superseded one stays,
marked), evaluator ratings, rejections and deliveries. And the loader that turns them into the
`PeriodFacts` scoring reads."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from alliance_shared.mongo import IndexSpec, is_duplicate_key
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from ..domain.facts import (
    Adjustment,
    Branch,
    Classification,
    DuesPayment,
    Exemption,
    Incident,
    Institution,
    Learning,
    Meeting,
    PeriodFacts,
    PublicActivity,
    Rating,
)
from ..domain.periods import Period
from ..domain.roll import RollChange, stints_of

Doc = dict[str, Any]


@dataclass(frozen=True)
class RegistryWrite:
    """One registry event's effect on a projection: a guarded upsert of one document (`query`
    names it by `doc_id`, with the guard)."""

    collection: str
    doc_id: str
    query: Doc
    update: Doc

    def op(self) -> UpdateOne:
        return UpdateOne(self.query, self.update, upsert=True)


INDEXES = [
    IndexSpec("organizations", [("institution_ids", 1)]),
    IndexSpec("organizations", [("parent_id", 1)]),  # the branches attached to a committee (挂靠)
    IndexSpec("organizations", [("kind", 1)]),  # the lagging scan's branches
    IndexSpec("members", [("org_ids", 1)]),
    IndexSpec("activities", [("period", 1), ("organization_id", 1)]),
    IndexSpec("activities", [("period", 1), ("member_id", 1)]),
    IndexSpec("activities", [("period", 1), ("institution_id", 1)]),
    IndexSpec("activities", [("period", 1), ("type", 1)]),  # a few quarters' meetings (the lagging scan)
    IndexSpec("activities", [("organization_id", 1), ("type", 1)]),  # older meetings of silent branches
    IndexSpec("activities", [("organization_id", 1), ("kind", 1), ("held_on", -1)]),
    IndexSpec("ratings", [("period", 1), ("object_id", 1)]),
    IndexSpec("adjustments", [("period", 1), ("status", 1)]),
    IndexSpec("rejections", [("period", 1), ("institution_id", 1)]),
    IndexSpec("deliveries", [("organization_id", 1), ("at", -1)]),
    IndexSpec("dirty", [("period", 1)]),
]


def _d(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _neg(event_id: str) -> tuple[int, ...]:
    """Orders ties on a day by the smallest event id first (deterministic)."""
    return tuple(-ord(c) for c in event_id)


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _aware(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# what scoring reads of an activity document (`add_activity`)
ACTIVITY_FIELDS = {
    k: 1
    for k in (
        "type", "organization_id", "member_id", "institution_id", "received_at", "kind", "held_on", "held_at",
        "attendees", "attendee_ids", "expected", "day", "minutes", "month", "participant_ids", "severity",
        "occurred_on", "review_state", "on_behalf_of",
    )
}  # fmt: skip


# what the data-quality panel shows of a flagged event
FLAGGED_FIELDS = (
    "type", "organization_id", "member_id", "kind", "held_on", "day", "month", "occurred_on", "flags",
    "channel", "received_at",
)  # fmt: skip
INCIDENT = "fpba.compliance.incident.v1"
MEETING = "fpba.meeting.held.v1"
ORG_FIELDS = {k: 1 for k in ("institution_ids", "kind", "name", "opened", "closed", "has_party_groups")}
INSTITUTION_FIELDS = {"name": 1, "classes": 1}
RATING_FIELDS = {k: 1 for k in ("rating_id", "object_type", "object_id", "evaluator", "rating")}
ADJUSTMENT_FIELDS = {k: 1 for k in ("object_type", "object_id", "points", "reason")}
EXEMPTION_FIELDS = {k: 1 for k in ("organization_id", "kind", "start", "end")}


Entry = tuple[str, Any, datetime | None]  # (the PeriodFacts list, the fact, received at)


@dataclass
class QuarterActivities:
    """A quarter's current activity read once (the what-if replay of every institution), as facts grouped by what
    `load_facts` asks for: the branch (meetings, public activities), the member (learning, dues)
    and the institution (incidents). The same facts the three `$in` reads per chunk find."""

    by_org: dict[str, list[Entry]] = field(default_factory=dict)
    by_member: dict[str, list[Entry]] = field(default_factory=dict)
    incidents: dict[str, list[Entry]] = field(default_factory=dict)

    def add(self, a: Doc) -> None:
        received = _aware(a.get("received_at"))
        found = activity_fact(a, received or datetime(1970, 1, 1, tzinfo=UTC))
        if found is None:
            return
        entry = (found[0], found[1], received)
        if a.get("organization_id"):
            self.by_org.setdefault(sys.intern(a["organization_id"]), []).append(entry)
        if a.get("member_id"):
            self.by_member.setdefault(sys.intern(a["member_id"]), []).append(entry)
        if a["type"] == INCIDENT and a.get("institution_id"):
            self.incidents.setdefault(a["institution_id"], []).append(entry)


@dataclass(frozen=True)
class Reviews:
    """A period's evaluator ratings and approved adjustments (the same for every chunk)."""

    ratings: tuple[Rating, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()


def branch_of(o: Doc) -> Branch:
    """A projected organisation as scoring reads it."""
    return Branch(
        o["_id"], tuple(o["institution_ids"]), o["kind"], o.get("name", ""), _day(o["opened"]), _date(o.get("closed")),
        bool(o.get("has_party_groups")),
    )  # fmt: skip


def roll_changes(member: Doc) -> list[RollChange]:
    """A projected member's roll changes, in the order they were projected."""
    return [
        RollChange(c["event_id"], _day(c["on"]), c["kind"], c.get("org"), c.get("status"), bool(c.get("pocket")))
        for c in member.get("changes", [])
    ]


class Projections:
    def __init__(self, db: AsyncDatabase[Doc] | Callable[[], AsyncDatabase[Doc]]) -> None:
        # a callable: the database exists only once the runtime has started
        self._db = db

    @property
    def db(self) -> AsyncDatabase[Doc]:
        return self._db() if callable(self._db) else self._db

    # -- registry ----------------------------------------------------------------------------
    # The registry's events are applied as guarded upserts (`_id` plus "this event not in it yet"),
    # gathered per consumer batch and written by `apply_registry` in a bulk write per collection:
    # one `update_one` per event made a city's 100,000 member registrations ~150 events/s.
    @staticmethod
    def institution_class(
        inst_id: str,
        name: str | None,
        effective_from: date,
        cls: dict[str, Any],
        event_id: str,
        uscc: str | None = None,
    ) -> RegistryWrite:
        entry = {"from": effective_from.isoformat(), "event_id": event_id, **cls}
        fields: Doc = {"updated_from": event_id}
        if name:
            fields["name"] = name
        if uscc:
            fields["uscc"] = uscc
        return RegistryWrite("institutions", inst_id, {"_id": inst_id, "classes.event_id": {"$ne": event_id}},
                             {"$set": fields, "$push": {"classes": entry}})

    @staticmethod
    def organization(org_id: str, fields: dict[str, Any]) -> RegistryWrite:
        return RegistryWrite("organizations", org_id, {"_id": org_id}, {"$set": fields})

    @staticmethod
    def roll_change(member_id: str, change: RollChange, institution_ids: list[str]) -> RegistryWrite:
        entry = {
            "event_id": change.event_id,
            "on": change.on.isoformat(),
            "kind": change.kind,
            "org": change.organization_id,
            "status": change.status,
            "pocket": change.pocket,
        }
        # `org_ids`: every organisation the member has been on the roll of (what scoring looks up)
        added: Doc = {"institution_ids": {"$each": institution_ids}}
        if change.organization_id:
            added["org_ids"] = change.organization_id
        return RegistryWrite("members", member_id, {"_id": member_id, "changes.event_id": {"$ne": change.event_id}},
                             {"$addToSet": added, "$push": {"changes": entry}})

    async def apply_registry(self, writes: Sequence[RegistryWrite]) -> None:
        """Apply `writes`, a document's in the order they came: unordered bulk writes per
        collection, each holding at most one write per document (a document's second write goes in
        the next one). A redelivered event finds its guard false and its upsert collides with the
        stored `_id`: it was applied already. (An ordered bulk stops at a collision, and sending the
        rest again per collision made a redelivered batch cost a bulk write per event.)"""
        rounds: dict[str, list[list[UpdateOne]]] = {}
        seen: dict[tuple[str, str], int] = {}
        for w in writes:
            k = seen[(w.collection, w.doc_id)] = seen.get((w.collection, w.doc_id), -1) + 1
            of_collection = rounds.setdefault(w.collection, [])
            if k == len(of_collection):
                of_collection.append([])
            of_collection[k].append(w.op())
        for name, ops_by_round in rounds.items():
            for ops in ops_by_round:
                try:
                    await self.db[name].bulk_write(ops, ordered=False)
                except BulkWriteError as exc:
                    errors = exc.details.get("writeErrors") or []
                    if not errors or not all(is_duplicate_key(e) for e in errors):
                        raise

    async def institutions_of_orgs(self, org_ids: list[str]) -> list[str]:
        docs = await self.db.organizations.find({"_id": {"$in": org_ids}}, {"institution_ids": 1}).to_list(None)
        return sorted({i for d in docs for i in d.get("institution_ids", [])})

    async def names(self, collection: str, ids: Sequence[str]) -> dict[str, str | None]:
        """`_id` → `name` of institutions or organisations (missing ones left out)."""
        if not ids:
            return {}
        query = {"_id": {"$in": list(dict.fromkeys(ids))}}
        return {d["_id"]: d.get("name") async for d in self.db[collection].find(query, {"name": 1})}

    async def attached_from_elsewhere(self, institution_id: str) -> list[Doc]:
        """Organisations of other institutions attached to one of this institution's (挂靠建: an
        affiliated branch under its committee or general branch), each with its parent's name:
        the institution's organisations by the indexed `institution_ids`, then their children by
        the indexed `parent_id` `$in`."""
        own = await self.db.organizations.find({"institution_ids": institution_id}, {"name": 1}).to_list(None)
        if not own:
            return []
        parents = {d["_id"]: d.get("name") for d in own}
        fields = {"institution_ids": 1, "kind": 1, "name": 1, "parent_id": 1, "opened": 1, "closed": 1}
        query = {"parent_id": {"$in": sorted(parents)}}
        children = await self.db.organizations.find(query, fields).to_list(None)
        return [
            {**d, "parent_name": parents.get(d["parent_id"])}
            for d in sorted(children, key=lambda d: d["_id"])
            if institution_id not in (d.get("institution_ids") or [])
        ]

    async def branch_organizations(self, kinds: Sequence[str]) -> list[Doc]:
        """Organisations of `kinds` with their institutions and open/close days (the lagging scan)."""
        query = {"kind": {"$in": list(kinds)}}
        return await self.db.organizations.find(query, {"institution_ids": 1, "opened": 1, "closed": 1}).to_list(None)

    # -- activity ----------------------------------------------------------------------------
    async def activity(self, doc: Doc, supersedes: str | None) -> Doc | None:
        """Store an accepted event (a redelivery, or an event its correction announced, updates
        the stored one); returns the document it superseded, if that one is known."""
        event_id = doc["_id"]
        await self.db.activities.update_one(
            {"_id": event_id}, {"$set": {k: v for k, v in doc.items() if k != "_id"}}, upsert=True
        )
        if not supersedes:
            return None
        return await self.db.activities.find_one_and_update(
            {"_id": supersedes}, {"$set": {"superseded_by": event_id}}, upsert=True
        )

    async def review(self, event_id: str, state: str, version: int, step: Doc) -> Doc | None:
        """Apply a review step to a stored event unless a later one was applied (steps are numbered);
        returns what the event's rescore needs, None when it was not applied (a redelivery, or an
        event evaluation never stored)."""
        newer = {"$or": [{"review_version": None}, {"review_version": {"$lt": version}}]}
        found: Doc | None = await self.db.activities.find_one_and_update(
            {"_id": event_id, **newer},
            {"$set": {"review_state": state, "review_version": version}, "$push": {"review_history": step}},
        )
        return found

    async def filed_on_behalf(self, period: str, organization_id: str) -> list[Doc]:
        """The branch's current reports of `period` that a superior filed for it (上级代办), through the
        (period, organization_id) index."""
        query = {"period": period, "organization_id": organization_id, "superseded_by": None}
        fields = {"type": 1, "kind": 1, "held_on": 1, "filed_by": 1, "on_behalf_of": 1, "review_state": 1}
        return [a async for a in self.db.activities.find(query, fields) if a.get("on_behalf_of")]

    async def activity_event(self, event_id: str) -> Doc | None:
        """One stored activity event, by its id (the evidence an officer opens)."""
        found: Doc | None = await self.db.activities.find_one({"_id": event_id})
        return found

    async def activities(self, docs: list[Doc]) -> None:
        """Store accepted events (none a correction) in one insert; those already stored (a batch
        delivered again) are updated by `_id`."""
        try:
            await self.db.activities.insert_many([dict(d) for d in docs], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(err.get("code") != 11000 for err in errors):
                raise
            again = [docs[err["index"]] for err in errors]
            await self.db.activities.bulk_write(
                [UpdateOne({"_id": d["_id"]}, {"$set": {k: v for k, v in d.items() if k != "_id"}}) for d in again],
                ordered=False,
            )

    async def owners_of_activities(self, docs: list[Doc]) -> dict[str, set[str]]:
        """Event id → the institutions whose scores it can change: the reporting institution, those
        its organisation covers, and those of every organisation its member has been on the roll
        of. The members, then the organisations, in one read each."""
        member_ids = sorted({d["member_id"] for d in docs if d.get("member_id")})
        members = await _by_id(self.db.members, member_ids, {"org_ids": 1})
        orgs_of_member = {m: set(members.get(m, {}).get("org_ids") or []) for m in member_ids}
        org_ids = {d["organization_id"] for d in docs if d.get("organization_id")}
        org_ids |= {o for orgs in orgs_of_member.values() for o in orgs}
        orgs = await _by_id(self.db.organizations, sorted(org_ids), {"institution_ids": 1})

        def covered(org_ids: set[str]) -> set[str]:
            return {i for o in org_ids for i in orgs.get(o, {}).get("institution_ids", [])}

        out: dict[str, set[str]] = {}
        for d in docs:
            owners = {d["institution_id"]} if d.get("institution_id") else set()
            if d.get("organization_id"):
                owners |= covered({d["organization_id"]})
            if d.get("member_id"):
                owners |= covered(orgs_of_member[d["member_id"]])
            out[d["_id"]] = owners
        return out

    async def last_meetings(
        self,
        since: date,
        recent: Sequence[str],
        branch_ids: Sequence[str],
        counted: Callable[[Doc], bool] = lambda _: True,
    ) -> dict[str, tuple[str, str]]:
        """Organisation id → (day, event id) of its latest organisational-life meeting since `since`
        among those `counted` (a meeting returned in review does not count, as the ruleset says).

        The meetings of the `recent` quarters (around today's, through the (period, type) index),
        then, for the `branch_ids` that had none of them, the older meetings of those branches
        alone (through the (organization_id, type) index, 1,000 branches a read): the city's
        branches mostly meet every quarter, so years of meetings are never read whole."""
        latest: dict[str, tuple[str, str]] = {}
        fields = {"organization_id": 1, "held_on": 1, "review_state": 1, "on_behalf_of": 1}
        floor = since.isoformat()

        async def read(query: Doc) -> None:
            async for a in self.db.activities.find({**query, "type": MEETING, "superseded_by": None}, fields):
                if a.get("held_on", "") < floor or not counted(a):
                    continue
                key = (a["held_on"], a["_id"])
                org = a["organization_id"]
                if org not in latest or (key[0], _neg(key[1])) > (latest[org][0], _neg(latest[org][1])):
                    latest[org] = key

        await read({"period": {"$in": list(recent)}})
        silent = [b for b in branch_ids if b not in latest]
        for start in range(0, len(silent), 1_000):
            await read({"organization_id": {"$in": silent[start : start + 1_000]}})
        return latest

    async def flagged_activities(self, period: Period, institution_id: str) -> list[Doc]:
        """The institution's current events of `period` that activity flagged at ingest, through
        the (period, institution_id) index."""
        query = {"period": str(period), "institution_id": institution_id, "superseded_by": None, "flags": {"$ne": None}}
        fields = {k: 1 for k in FLAGGED_FIELDS}
        return [a async for a in self.db.activities.find(query, fields) if a.get("flags")]

    async def rejection(self, doc: Doc) -> None:
        await self.db.rejections.update_one({"_id": doc.pop("_id")}, {"$set": doc}, upsert=True)

    async def delivery(self, delivery_id: str, fields: Doc, entry: Doc) -> None:
        await self.db.deliveries.update_one({"_id": delivery_id}, {"$set": fields}, upsert=True)
        await self.db.deliveries.update_one(
            {"_id": delivery_id, "history.event_id": {"$ne": entry["event_id"]}},
            {"$push": {"history": entry}},
        )

    # -- the facts scoring reads -------------------------------------------------------------
    async def reviews(self, period: Period) -> Reviews:
        """The period's evaluator ratings and approved adjustments: small, read once per rescore
        and handed to every chunk's `load_facts`."""
        p = str(period)
        ratings, adjustments = await asyncio.gather(
            self.db.ratings.find({"period": p}, RATING_FIELDS).to_list(None),
            self.db.adjustments.find({"period": p, "status": "approved"}, ADJUSTMENT_FIELDS).to_list(None),
        )
        return Reviews(
            tuple(
                Rating(r["rating_id"], r["object_type"], r["object_id"], r["evaluator"], r["rating"]) for r in ratings
            ),
            tuple(
                Adjustment(a["_id"], a["object_type"], a["object_id"], a["points"], a["reason"]) for a in adjustments
            ),
        )

    async def quarter_activities(self, period: Period) -> QuarterActivities:
        """The quarter's current activity in one read through the indexed `period`: the what-if
        replay, which holds every institution's facts at once anyway. A rescore reads chunk by
        chunk, so that only the chunks in its pipeline are held."""
        found = QuarterActivities()
        async for a in self.db.activities.find({"period": str(period), "superseded_by": None}, ACTIVITY_FIELDS):
            found.add(a)
        return found

    async def load_facts(
        self,
        period: Period,
        institution_ids: list[str],
        received_by: datetime | None = None,
        reviews: Reviews | None = None,
        quarter: QuarterActivities | None = None,
    ) -> PeriodFacts:
        """Facts for `institution_ids` (and the branches that cover them) in `period`; events
        received after `received_by` are left out (a closed period replays as it was frozen).

        Each collection is read once, with only the fields scoring needs, through its index: the
        organisations first (their ids narrow the rest), then the institutions, the members with
        their learning and dues, the branches' activities, the incidents and the exemptions at
        once (the store answers them in parallel)."""
        facts = PeriodFacts()
        orgs = await self.db.organizations.find({"institution_ids": {"$in": institution_ids}}, ORG_FIELDS).to_list(None)
        owners = sorted({*institution_ids, *(o["institution_ids"][0] for o in orgs if o.get("institution_ids"))})
        facts.branches.update((o["_id"], branch_of(o)) for o in orgs if o.get("kind") and o.get("opened"))
        org_ids = sorted(facts.branches)
        p = str(period)
        current: Doc = {"period": p, "superseded_by": None}

        def add(a: Doc) -> None:
            received = _aware(a.get("received_at"))
            if received_by is not None and received is not None and received > received_by:
                return
            add_activity(facts, a, received or datetime(1970, 1, 1, tzinfo=UTC))

        async def institutions() -> None:
            async for doc in self.db.institutions.find({"_id": {"$in": owners}}, INSTITUTION_FIELDS):
                facts.institutions[doc["_id"]] = institution_of(doc)

        async def members() -> None:
            # what scoring reads of the members' activity (learning, dues) follows their roll
            member_ids: list[str] = []
            async for m in self.db.members.find({"org_ids": {"$in": org_ids}}, {"changes": 1}):
                member_ids.append(m["_id"])
                stints = stints_of(m["_id"], roll_changes(m))
                facts.stints += [s for s in stints if s.organization_id in facts.branches]
            if quarter is not None:
                for m_id in member_ids:
                    kept(quarter.by_member.get(m_id, ()))
            elif member_ids:
                async for a in self.db.activities.find({**current, "member_id": {"$in": member_ids}}, ACTIVITY_FIELDS):
                    add(a)

        async def activities(query: Doc) -> None:
            async for a in self.db.activities.find(query, ACTIVITY_FIELDS):
                add(a)

        def kept(entries: Sequence[Entry]) -> None:
            for name, fact, received in entries:
                if received_by is None or received is None or received <= received_by:
                    getattr(facts, name).append(fact)

        async def from_quarter(q: QuarterActivities) -> None:
            for org_id in org_ids:
                kept(q.by_org.get(org_id, ()))
            for inst_id in institution_ids:
                kept(q.incidents.get(inst_id, ()))

        async def exemptions() -> None:
            async for ex in self.db.exemptions.find({"organization_id": {"$in": org_ids}}, EXEMPTION_FIELDS):
                facts.exemptions.append(
                    Exemption(ex["organization_id"], ex.get("kind"), _day(ex["start"]), _day(ex["end"]))
                )

        # what scoring reads: the branches' meetings and public activities, their members' learning
        # and dues, the institutions' incidents (each through its (period, field) index)
        reads = [institutions(), members(), exemptions()]
        if quarter is not None:
            reads.append(from_quarter(quarter))
        else:
            reads.append(activities({**current, "organization_id": {"$in": org_ids}}))
            reads.append(activities({**current, "institution_id": {"$in": institution_ids}, "type": INCIDENT}))
        await asyncio.gather(*reads)
        found = reviews if reviews is not None else await self.reviews(period)
        facts.ratings.extend(found.ratings)
        facts.adjustments.extend(found.adjustments)
        return facts

    async def institutions_to_score(self) -> list[str]:
        return sorted(d["_id"] for d in await self.db.institutions.find({}, {"_id": 1}).to_list(None))

    async def bulk_activities(self, docs: list[Doc]) -> None:
        """For loading many events at once (bench, imports)."""
        if docs:
            await self.db.activities.bulk_write(
                [
                    UpdateOne({"_id": d["_id"]}, {"$set": {k: v for k, v in d.items() if k != "_id"}}, upsert=True)
                    for d in docs
                ],
                ordered=False,
            )


async def _by_id(collection: Any, ids: Sequence[str], projection: Doc) -> dict[str, Doc]:
    if not ids:
        return {}
    return {d["_id"]: d async for d in collection.find({"_id": {"$in": list(ids)}}, projection)}


def institution_of(doc: Doc) -> Institution:
    classes = tuple(
        (
            _day(c["from"]),
            Classification(
                c["ownership"],
                c.get("party_org_status", ""),
                c.get("reporting_level", "L1"),
                c.get("sector", ""),
            ),
        )
        for c in doc.get("classes", [])
    )
    return Institution(doc["_id"], doc.get("name", ""), classes)


def add_activity(facts: PeriodFacts, a: Doc, received: datetime) -> None:
    found = activity_fact(a, received)
    if found is not None:
        getattr(facts, found[0]).append(found[1])


def activity_fact(a: Doc, received: datetime) -> tuple[str, Any] | None:
    """The fact an activity document is, and the `PeriodFacts` list it goes in."""
    t, eid = a["type"], a["_id"]
    if t == "fpba.meeting.held.v1":
        return "meetings", Meeting(
            eid,
            a["organization_id"],
            a["kind"],
            _day(a["held_on"]),
            a.get("attendees", 0),
            a.get("expected", 0),
            received,
            # stored before attendees and times were kept: None, and the count stands
            tuple(a["attendee_ids"]) if "attendee_ids" in a else None,
            _aware(a.get("held_at")),
            a.get("review_state") or "pending",
            bool(a.get("on_behalf_of")),
        )
    if t == "fpba.learning.completed.v1":
        return "learning", Learning(eid, a["member_id"], _day(a["day"]), a["minutes"], received)
    if t == "fpba.dues.paid.v1":
        return "dues", DuesPayment(eid, a["member_id"], a["month"], received)
    if t == "fpba.public_activity.held.v1":
        return "public_activities", PublicActivity(
            eid,
            a["organization_id"],
            _day(a["held_on"]),
            tuple(a.get("participant_ids", [])),
            received,
            a.get("review_state") or "pending",
            bool(a.get("on_behalf_of")),
        )
    if t == "fpba.compliance.incident.v1":
        return "incidents", Incident(eid, a["institution_id"], a["severity"], _day(a["occurred_on"]))
    return None
