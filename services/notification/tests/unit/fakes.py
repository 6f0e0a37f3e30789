"""In-memory stand-ins for notification's repositories (`adapters/store.py`, cosmicpython's
`FakeRepository`): the methods the event handlers, the escalation and the batch's reports ask of
the contacts, the catalog, the cases, the reminders and the deliveries, over dicts — each keeping
the guard its real one keeps (a case, a reminder and a delivery are created once; a case advances
only from the step it is at; a delivery changes only at the version it was read at)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from alliance_notification.domain.deliveries import PENDING
from alliance_notification.domain.rules import DEFAULT_RULES, Rule
from alliance_notification.handlers import NotificationUnit
from alliance_notification.settings import NotificationSettings
from alliance_shared.clock import FixedClock

Doc = dict[str, Any]


class FakeContacts:
    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}

    async def upsert_organization(
        self, org_id: str, fields: Mapping[str, Any], secretary: Mapping[str, Any] | None
    ) -> None:
        doc = self.docs.setdefault(f"org:{org_id}", {"_id": f"org:{org_id}"})
        doc.update({"kind": "organization", **fields, **({"contact": dict(secretary)} if secretary else {})})

    async def upsert_institution(
        self, inst_id: str, fields: Mapping[str, Any], contact: Mapping[str, Any] | None
    ) -> None:
        doc = self.docs.setdefault(f"inst:{inst_id}", {"_id": f"inst:{inst_id}"})
        doc.update({"kind": "institution", "institution_id": inst_id, **fields,
                    **({"contact": dict(contact)} if contact else {})})

    async def organization(self, org_id: str | None) -> Doc | None:
        return copy.deepcopy(self.docs.get(f"org:{org_id}")) if org_id else None


class FakeCatalog:
    def __init__(self, rules: Sequence[Rule] = DEFAULT_RULES) -> None:
        self.by_name = {r.name: r for r in rules}

    async def rule(self, name: str) -> Rule | None:
        return self.by_name.get(name)

    async def rules(self) -> list[Rule]:
        return sorted(self.by_name.values(), key=lambda r: r.name)


class FakeCases:
    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}

    async def open(self, doc: Doc) -> Doc:
        self.docs.setdefault(doc["_id"], copy.deepcopy(doc))
        return copy.deepcopy(self.docs[doc["_id"]])

    async def get(self, case_id: str) -> Doc | None:
        return copy.deepcopy(self.docs.get(case_id))

    async def due(self, now: datetime, limit: int = 200) -> list[Doc]:
        due = [d for d in self.docs.values()
               if d["status"] == "open" and d.get("next_step_at") is not None and d["next_step_at"] <= now]
        return [copy.deepcopy(d) for d in sorted(due, key=lambda d: d["next_step_at"])[:limit]]

    async def advance(self, case_id: str, from_index: int, to_index: int, next_step_at: datetime | None,
                      now: datetime) -> bool:
        doc = self.docs.get(case_id)
        if doc is None or doc["status"] != "open" or doc["step_index"] != from_index:
            return False
        doc.update(step_index=to_index, next_step_at=next_step_at, advanced_at=now)
        return True

    async def open_of(self, org_ids: Sequence[str], rules: Sequence[str]) -> list[Doc]:
        return [copy.deepcopy(d) for d in self.docs.values()
                if d["organization_id"] in org_ids and d["status"] == "open" and d["rule"] in rules]

    async def resolve(self, case_id: str, now: datetime, reason: str) -> Doc | None:
        doc = self.docs.get(case_id)
        if doc is None or doc["status"] != "open":
            return None
        doc.update(status="resolved", resolved_at=now, resolved_by=reason, next_step_at=None)
        return copy.deepcopy(doc)

    async def set_step_name(self, case_id: str, step: str) -> None:
        self.docs[case_id]["step"] = step


class FakeReminders:
    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}

    async def create(self, doc: Doc) -> bool:
        if doc["_id"] in self.docs:
            return False
        self.docs[doc["_id"]] = copy.deepcopy(doc)
        return True

    async def get(self, key: str) -> Doc | None:
        return copy.deepcopy(self.docs.get(key))

    async def latest_other(self, rule: str, org_id: str, key: str, since: datetime) -> Doc | None:
        found = [d for d in self.docs.values() if d["rule"] == rule and d["organization_id"] == org_id
                 and d["step_index"] == 0 and d["created_at"] >= since and d["_id"] != key]
        return copy.deepcopy(max(found, key=lambda d: d["created_at"])) if found else None

    async def add_item(self, key: str, item: Mapping[str, Any], limit: int = 50) -> None:
        doc = self.docs.get(key)
        if doc is None:
            return
        context = doc.setdefault("context", {})
        if doc.get("items_count", 0) < limit:
            reasons = context.setdefault("reasons", [])
            if dict(item) not in reasons:
                reasons.append(dict(item))
            doc["items_count"] = doc.get("items_count", 0) + 1
        context["rejected_count"] = context.get("rejected_count", 0) + 1

    async def mark_reported(self, reports: Sequence[tuple[str, datetime]], rules: Sequence[str],
                            window: timedelta) -> int:
        marked = 0
        for org_id, at in reports:
            for d in self.docs.values():
                if (d["organization_id"] == org_id and d["rule"] in rules and d.get("reported_at") is None
                        and at - window <= d["created_at"] <= at):
                    d["reported_at"] = at
                    marked += 1
        return marked


class FakeDeliveries:
    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.events: list[Any] = []  # (payload, envelope) pairs written with the deliveries

    async def create(self, doc: Doc, events: Sequence[Any]) -> bool:
        if doc["_id"] in self.docs:
            return False
        self.docs[doc["_id"]] = {**copy.deepcopy(doc), "version": 1}
        self.events.extend(events)
        return True

    async def get(self, delivery_id: str) -> Doc | None:
        return copy.deepcopy(self.docs.get(delivery_id))

    async def change(self, doc: Doc, fields: Mapping[str, Any], history: Mapping[str, Any] | None,
                     events: Sequence[Any]) -> Doc:
        stored = self.docs[doc["_id"]]
        if stored["version"] != doc["version"]:
            raise RuntimeError("changed meanwhile")
        stored.update({**copy.deepcopy(dict(fields)), "claimed_until": None, "version": stored["version"] + 1})
        if history is not None:
            stored.setdefault("history", []).append(dict(history))
        self.events.extend(events)
        return copy.deepcopy(stored)

    async def contact_arrived(self, institution_ids: Sequence[str], now: datetime) -> int:
        woken = 0
        for d in self.docs.values():
            if d.get("waiting_contact") and d.get("institution_id") in institution_ids and d["status"] in PENDING:
                d.update(due_at=now, waiting_contact=False)
                woken += 1
        return woken

    async def pending_of_case(self, case_id: str) -> list[Doc]:
        return [copy.deepcopy(d) for d in self.docs.values() if d["case_id"] == case_id and d["status"] in PENDING]


class FakeStore:
    def __init__(self) -> None:
        self.contacts = FakeContacts()
        self.catalog = FakeCatalog()
        self.cases = FakeCases()
        self.reminders = FakeReminders()
        self.deliveries = FakeDeliveries()


def notifier(
    now: datetime = datetime(2026, 11, 16, 2, 0, tzinfo=UTC),
) -> tuple[NotificationUnit, FakeStore, FixedClock]:
    """A notifier over the fakes, standing on `now`."""
    store, clock = FakeStore(), FixedClock(now)
    n = NotificationUnit(lambda: store, clock, NotificationSettings(environment="test"), lambda: None)  # type: ignore[arg-type,return-value]
    return n, store, clock
