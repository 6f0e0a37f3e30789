"""MongoDB repositories of the notification service. Every write is one document operation (the
store has no multi-document transactions); uniqueness (dedupe keys, deterministic delivery ids,
receipt ids, SMS quota counters) is enforced by unique indexes, so a replay or a restart finds the
work already done instead of doing it twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from alliance_shared.audit import audit_document
from alliance_shared.contracts.audit import NotificationActionAudited
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.mongo import IndexSpec, is_duplicate_key, outbox_fields, outbox_push, update_versioned
from alliance_shared.paging import After, after, newest_first, total
from pymongo import ReturnDocument, UpdateMany
from pymongo.asynchronous.database import AsyncDatabase

from ..domain.default_templates import DEFAULT_TEMPLATES
from ..domain.deliveries import PENDING
from ..domain.rules import DEFAULT_RULES, Rule
from ..domain.templates import MessageTemplate

Doc = dict[str, Any]
AUDIT = "audit"
OUTBOX_COLLECTIONS = ("deliveries", AUDIT)
Events = Sequence[tuple[EventPayload, CloudEvent]]

_DEFAULT_RULES = {r.name: r for r in DEFAULT_RULES}
_DEFAULT_TEMPLATES = {t.name: t for t in DEFAULT_TEMPLATES}

INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec("reminders", [("dedupe_key", 1)], unique=True),
    IndexSpec("reminders", [("rule", 1), ("organization_id", 1), ("created_at", -1)]),
    IndexSpec("cases", [("status", 1), ("next_step_at", 1)]),
    IndexSpec("cases", [("organization_id", 1), ("status", 1)]),
    IndexSpec("cases", [("status", 1), ("opened_at", -1), ("_id", -1)]),  # the list, newest first (keyset)
    IndexSpec("dead_letters", [("at", -1), ("_id", -1)]),  # the list, newest first (keyset)
    IndexSpec("deliveries", [("status", 1), ("due_at", 1)]),
    IndexSpec("deliveries", [("organization_id", 1), ("created_at", -1)]),
    # the delivery log's lists: an institution's, by status, or all of them, newest first (keyset)
    IndexSpec("deliveries", [("institution_id", 1), ("created_at", -1), ("_id", -1)]),
    IndexSpec("deliveries", [("status", 1), ("created_at", -1), ("_id", -1)]),
    IndexSpec("deliveries", [("created_at", -1), ("_id", -1)]),
    IndexSpec("deliveries", [("case_id", 1), ("status", 1)]),
    IndexSpec("deliveries", [("provider_message_id", 1)]),
    IndexSpec("deliveries", [("reminder_id", 1)]),
    IndexSpec("deliveries", [("waiting_contact", 1), ("institution_id", 1)]),  # due again when a contact arrives
    IndexSpec("contacts", [("institution_id", 1), ("kind", 1)]),
    IndexSpec("sms_spend", [("month", 1)]),
)


async def _insert_once(col: Any, doc: Doc) -> bool:
    """Insert; False when a unique key says it is already there."""
    try:
        await col.insert_one(doc)
        return True
    except Exception as exc:
        if is_duplicate_key(exc):
            return False
        raise


class Contacts:
    """Who to remind, projected from registry events (contacts stay sealed here)."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db["contacts"]

    async def upsert_organization(
        self, org_id: str, fields: Mapping[str, Any], secretary: Mapping[str, Any] | None
    ) -> None:
        update: Doc = {"$set": {"kind": "organization", **fields}}
        if secretary is not None:
            update["$set"]["contact"] = dict(secretary)
        await self._col.update_one({"_id": f"org:{org_id}"}, update, upsert=True)

    async def upsert_institution(
        self, inst_id: str, fields: Mapping[str, Any], contact: Mapping[str, Any] | None
    ) -> None:
        update: Doc = {"$set": {"kind": "institution", "institution_id": inst_id, **fields}}
        if contact is not None:
            update["$set"]["contact"] = dict(contact)
        await self._col.update_one({"_id": f"inst:{inst_id}"}, update, upsert=True)

    async def organization(self, org_id: str | None) -> Doc | None:
        return await self._col.find_one({"_id": f"org:{org_id}"}) if org_id else None

    async def institution(self, inst_id: str | None) -> Doc | None:
        return await self._col.find_one({"_id": f"inst:{inst_id}"}) if inst_id else None

    async def institutions(self) -> list[Doc]:
        return await self._col.find({"kind": "institution"}).to_list(None)

    async def names(self, org_ids: Sequence[str]) -> dict[str, str]:
        """Organisations' names by id, in one query."""
        if not org_ids:
            return {}
        docs = await self._col.find(
            {"_id": {"$in": [f"org:{o}" for o in dict.fromkeys(org_ids)]}}, {"name": 1}
        ).to_list(None)
        return {d["_id"][4:]: d.get("name") or d["_id"][4:] for d in docs}

    async def committee_of(self, inst_id: str | None) -> Doc | None:
        if not inst_id:
            return None
        return await self._col.find_one(
            {"kind": "organization", "institution_id": inst_id, "org_kind": "committee"}
        )


class Catalog:
    """Rules and templates: defaults seeded once, then edited as data (optimistic versions)."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._rules = db["rules"]
        self._templates = db["templates"]

    async def seed(self, rules: Sequence[Rule], templates: Sequence[MessageTemplate]) -> None:
        """Insert the defaults; a default nobody edited (still at version 1) follows a newer default."""
        for rule in rules:
            body = rule.model_dump(mode="json")
            if not await _insert_once(self._rules, {"_id": rule.name, **body}):
                await self._rules.replace_one({"_id": rule.name, "version": 1}, {"_id": rule.name, **body})
        for template in templates:
            body = template.model_dump(mode="json")
            if not await _insert_once(self._templates, {"_id": template.name, **body}):
                await self._templates.replace_one(
                    {"_id": template.name, "version": 1}, {"_id": template.name, **body}
                )

    async def rule(self, name: str) -> Rule | None:
        """The stored rule, or its default while the seed has not run yet (a consumer may be first)."""
        doc = await self._rules.find_one({"_id": name}, {"_id": 0})
        return Rule.model_validate(doc) if doc else _DEFAULT_RULES.get(name)

    async def rules(self) -> list[Rule]:
        stored = {
            d["name"]: Rule.model_validate(d) for d in await self._rules.find({}, {"_id": 0}).to_list(None)
        }
        return [stored.get(name) or rule for name, rule in sorted({**_DEFAULT_RULES, **stored}.items())]

    async def put_rule(self, rule: Rule, expected_version: int | None) -> bool:
        return await self._put(self._rules, rule.name, rule.model_dump(mode="json"), expected_version)

    async def template(self, name: str) -> MessageTemplate | None:
        doc = await self._templates.find_one({"_id": name}, {"_id": 0})
        return MessageTemplate.model_validate(doc) if doc else _DEFAULT_TEMPLATES.get(name)

    async def templates(self) -> list[MessageTemplate]:
        docs = await self._templates.find({}, {"_id": 0}).sort("_id", 1).to_list(None)
        return [MessageTemplate.model_validate(d) for d in docs]

    async def put_template(self, template: MessageTemplate, expected_version: int | None) -> bool:
        return await self._put(
            self._templates, template.name, template.model_dump(mode="json"), expected_version
        )

    @staticmethod
    async def _put(col: Any, name: str, body: Doc, expected_version: int | None) -> bool:
        """Replace at `expected_version` (None: create only if new); False on a lost race."""
        if expected_version is None:
            return await _insert_once(col, {"_id": name, **body})
        result = await col.replace_one({"_id": name, "version": expected_version}, {"_id": name, **body})
        return bool(result.matched_count)


class Cases:
    """One case per (rule, organisation, period): the escalation ladder and whether it is open."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db["cases"]

    async def open(self, doc: Doc) -> Doc:
        await _insert_once(self._col, doc)
        found = await self._col.find_one({"_id": doc["_id"]})
        assert found is not None
        return found

    async def get(self, case_id: str) -> Doc | None:
        return await self._col.find_one({"_id": case_id})

    async def due(self, now: datetime, limit: int = 200) -> list[Doc]:
        return (
            await self._col.find({"status": "open", "next_step_at": {"$lte": now}})
            .sort("next_step_at", 1)
            .to_list(limit)
        )

    async def advance(
        self, case_id: str, from_index: int, to_index: int, next_step_at: datetime | None, now: datetime
    ) -> bool:
        result = await self._col.update_one(
            {"_id": case_id, "status": "open", "step_index": from_index},
            {"$set": {"step_index": to_index, "next_step_at": next_step_at, "advanced_at": now}},
        )
        return bool(result.modified_count)

    async def open_of(self, org_ids: Sequence[str], rules: Sequence[str]) -> list[Doc]:
        """The open cases of `org_ids` under `rules`, in one query."""
        return await self._col.find(
            {"organization_id": {"$in": list(org_ids)}, "status": "open", "rule": {"$in": list(rules)}}
        ).to_list(None)

    async def open_of_rules(self, rules: Sequence[str]) -> list[Doc]:
        return await self._col.find({"status": "open", "rule": {"$in": list(rules)}}).to_list(None)

    async def resolve(self, case_id: str, now: datetime, reason: str) -> Doc | None:
        """Close the case if it is still open; the closed case, or None when another closed it."""
        return await self._col.find_one_and_update(
            {"_id": case_id, "status": "open"},
            {"$set": {"status": "resolved", "resolved_at": now, "resolved_by": reason, "next_step_at": None}},
            return_document=ReturnDocument.AFTER,
        )

    async def list(
        self, *, status: str | None, step: str | None, limit: int, position: After | None = None
    ) -> list[Doc]:
        """Newest first, after `position` (keyset); read with `limit + 1` to tell whether more follow."""
        query: Doc = {}
        if status:
            query["status"] = status
        if step:
            query["step"] = step
        found = self._col.find(after(query, "opened_at", position)).sort(newest_first("opened_at"))
        return await found.limit(limit + 1).to_list(limit + 1)

    async def set_step_name(self, case_id: str, step: str) -> None:
        await self._col.update_one({"_id": case_id}, {"$set": {"step": step}})

    async def count(self, query: Doc) -> int:
        return int(await self._col.count_documents(query))


class Reminders:
    """One reminder per (rule, organisation, period, step) under a unique dedupe key."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db["reminders"]

    async def create(self, doc: Doc) -> bool:
        return await _insert_once(self._col, doc)

    async def get(self, key: str) -> Doc | None:
        return await self._col.find_one({"_id": key})

    async def latest_other(self, rule: str, org_id: str, key: str, since: datetime) -> Doc | None:
        docs = (
            await self._col.find(
                {"rule": rule, "organization_id": org_id, "step_index": 0, "created_at": {"$gte": since}}
            )
            .sort("created_at", -1)
            .to_list(5)
        )
        return next((d for d in docs if d["_id"] != key), None)

    async def add_item(self, key: str, item: Mapping[str, Any], limit: int = 50) -> None:
        await self._col.update_one(
            {"_id": key, "items_count": {"$lt": limit}},
            {"$addToSet": {"context.reasons": dict(item)}, "$inc": {"items_count": 1}},
        )
        await self._col.update_one({"_id": key}, {"$inc": {"context.rejected_count": 1}})

    async def mark_reported(
        self, reports: Sequence[tuple[str, datetime]], rules: Sequence[str], window: timedelta
    ) -> int:
        """Each (organisation, reported at): its reminders of the `window` before count as
        answered. One bulk write for them all."""
        if not reports:
            return 0
        result = await self._col.bulk_write(
            [
                UpdateMany(
                    {
                        "organization_id": org_id,
                        "rule": {"$in": list(rules)},
                        "reported_at": None,
                        "created_at": {"$gte": at - window, "$lte": at},
                    },
                    {"$set": {"reported_at": at}},
                )
                for org_id, at in reports
            ],
            ordered=True,
        )
        return int(result.modified_count)

    async def for_effectiveness(
        self, rules: Sequence[str], since: datetime | None, institution_id: str | None = None
    ) -> list[Doc]:
        query: Doc = {"rule": {"$in": list(rules)}}
        if institution_id is not None:
            query["institution_id"] = institution_id
        if since is not None:
            query["created_at"] = {"$gte": since}
        return await self._col.find(
            query, {"created_at": 1, "reported_at": 1, "rule": 1, "step": 1, "institution_id": 1}
        ).to_list(None)


class Deliveries:
    """Deliveries, each carrying its status history; every status change and its
    `DeliveryStatusChanged` event are one write (single-document outbox)."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db["deliveries"]
        self._dead = db["dead_letters"]

    async def create(self, doc: Doc, events: Events) -> bool:
        return await _insert_once(self._col, {**doc, "version": 1, **outbox_fields(events)})

    async def get(self, delivery_id: str) -> Doc | None:
        return await self._col.find_one({"_id": delivery_id}, {"outbox": 0})

    async def by_provider_message(self, message_id: str) -> Doc | None:
        return await self._col.find_one({"provider_message_id": message_id}, {"outbox": 0})

    async def by_provider_messages(self, provider: str, message_ids: Sequence[str]) -> list[Doc]:
        """The deliveries a provider's receipts name, by the serial it answered when sending."""
        if not message_ids:
            return []
        return await self._col.find(
            {"provider_message_id": {"$in": list(dict.fromkeys(message_ids))}, "provider": provider},
            {"outbox": 0},
        ).to_list(None)

    async def of_reminder(self, reminder_id: str) -> list[Doc]:
        return await self._col.find({"reminder_id": reminder_id}, {"outbox": 0}).to_list(None)

    async def of_reminders(self, reminder_ids: Sequence[str]) -> list[Doc]:
        """The sends of many reminders, for the closed-loop figure (channel, hour of sending)."""
        if not reminder_ids:
            return []
        return await self._col.find(
            {"reminder_id": {"$in": list(dict.fromkeys(reminder_ids))}},
            {"reminder_id": 1, "channel": 1, "status": 1, "sent_at": 1},
        ).to_list(None)

    async def many(self, delivery_ids: Sequence[str]) -> list[Doc]:
        return await self._col.find(
            {"_id": {"$in": list(dict.fromkeys(delivery_ids))}}, {"outbox": 0}
        ).to_list(None)

    async def due(self, now: datetime, limit: int = 100) -> list[Doc]:
        return (
            await self._col.find({"status": {"$in": list(PENDING)}, "due_at": {"$lte": now}}, {"outbox": 0})
            .sort("due_at", 1)
            .to_list(limit)
        )

    async def sending_before(self, cutoff: datetime, limit: int) -> list[Doc]:
        """Deliveries being sent since before `cutoff` (their dispatcher never recorded the outcome)."""
        return (
            await self._col.find({"status": "sending", "sending_at": {"$lte": cutoff}}, {"outbox": 0})
            .sort("sending_at", 1)
            .to_list(limit)
        )

    async def claim(self, delivery_id: str, now: datetime, lease: timedelta) -> Doc | None:
        """Take a due delivery for one dispatcher; None if another has it or it is no longer due."""
        return await self._col.find_one_and_update(
            {
                "_id": delivery_id,
                "status": {"$in": list(PENDING)},
                "due_at": {"$lte": now},
                "$or": [{"claimed_until": None}, {"claimed_until": {"$lte": now}}],
            },
            {"$set": {"claimed_until": now + lease}, "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
        )  # no projection: the embedded store cannot

    async def change(
        self, doc: Doc, fields: Mapping[str, Any], history: Mapping[str, Any] | None, events: Events
    ) -> Doc:
        """Move `doc` (as read, at its version) to new fields, appending history and events."""
        update: Doc = {"$set": {**fields, "claimed_until": None}}
        if history is not None:
            update["$push"] = {"history": dict(history)}
        update = outbox_push(update, events)
        return await update_versioned(self._col, doc["_id"], doc["version"], update)

    async def contact_arrived(self, institution_ids: Sequence[str], now: datetime) -> int:
        """The deliveries waiting for a contact of these institutions (or of their organisations)
        are due now rather than at their next look; returns how many."""
        result = await self._col.update_many(
            {"waiting_contact": True, "institution_id": {"$in": list(institution_ids)},
             "status": {"$in": list(PENDING)}},
            {"$set": {"due_at": now, "waiting_contact": False}},
        )
        return result.modified_count

    async def touch(self, delivery_id: str, fields: Mapping[str, Any]) -> None:
        await self._col.update_one({"_id": delivery_id}, {"$set": dict(fields)})

    async def pending_of_case(self, case_id: str) -> list[Doc]:
        return await self._col.find(
            {"case_id": case_id, "status": {"$in": list(PENDING)}}, {"outbox": 0}
        ).to_list(None)

    async def search(self, query: Doc, limit: int, skip: int = 0) -> tuple[list[Doc], int]:
        docs, count, _ = await self.page(query, limit, skip)
        return docs[:limit], count or 0

    async def page(
        self, query: Doc, limit: int, skip: int = 0, position: After | None = None, with_total: bool = True
    ) -> tuple[list[Doc], int | None, bool]:
        """(one page newest first, read with one more than `limit` to tell whether another follows;
        the total when asked, whether it is an estimate); after `position` it is a keyset page."""
        found = self._col.find(after(query, "created_at", position), {"outbox": 0}).sort(newest_first("created_at"))
        docs = await found.skip(skip).limit(limit + 1).to_list(limit + 1)
        count, estimated = await total(self._col, query) if with_total else (None, False)
        return docs, count, estimated

    async def count(self, query: Doc) -> int:
        return int(await self._col.count_documents(query))

    async def dead_letter(self, doc: Doc, reason: str, now: datetime) -> None:
        await _insert_once(
            self._dead,
            {
                "_id": f"{doc['_id']}:{doc.get('attempts', 0)}",
                "delivery_id": doc["_id"],
                "rule": doc.get("rule"),
                "channel": doc.get("channel"),
                "organization_id": doc.get("organization_id"),
                "recipient_masked": doc.get("recipient_masked"),
                "reason": reason,
                "at": now,
                "requeued": False,
            },
        )

    async def dead_letters(self, limit: int, position: After | None = None) -> list[Doc]:
        """Newest first, after `position` (keyset); read with `limit + 1` to tell whether more follow."""
        return await self._dead.find(after({}, "at", position)).sort(newest_first("at")).limit(limit + 1).to_list(
            limit + 1)

    async def mark_requeued(self, delivery_id: str) -> None:
        await self._dead.update_many({"delivery_id": delivery_id}, {"$set": {"requeued": True}})


class SmsQuota:
    """At most N SMS per phone per local day: a counter per (phone hash, day) that a conditional
    upsert refuses to raise past the limit (the unique `_id` turns the refusal into a duplicate key)."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db["sms_quota"]

    async def reserve(self, phone_hash: str, day: str, limit: int) -> bool:
        try:
            await self._col.find_one_and_update(
                {"_id": f"{phone_hash}:{day}", "count": {"$lt": limit}}, {"$inc": {"count": 1}}, upsert=True
            )
            return True
        except Exception as exc:
            if is_duplicate_key(exc):
                return False
            raise

    async def used(self, phone_hash: str, day: str) -> int:
        doc = await self._col.find_one({"_id": f"{phone_hash}:{day}"})
        return int(doc["count"]) if doc else 0


class SmsBudgets:
    """Each institution's SMS budget per month (data the secretariat sets), and what its SMS cost:
    one counter per (institution, month), raised after each SMS the provider accepted."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._budgets = db["sms_budgets"]
        self._spend = db["sms_spend"]

    async def budget(self, institution_id: str) -> Doc | None:
        return await self._budgets.find_one({"_id": institution_id})

    async def budgets(self, institution_ids: Sequence[str] | None) -> list[Doc]:
        query: Doc = {} if institution_ids is None else {"_id": {"$in": list(institution_ids)}}
        return await self._budgets.find(query).to_list(None)

    async def put_budget(
        self, institution_id: str, fields: Mapping[str, Any], expected_version: int
    ) -> Doc | None:
        """Set the budget at `expected_version` (0: none yet); None when another edit came first."""
        if expected_version == 0:
            doc = {"_id": institution_id, **fields, "version": 1}
            return doc if await _insert_once(self._budgets, doc) else None
        return await self._budgets.find_one_and_update(
            {"_id": institution_id, "version": expected_version},
            {"$set": dict(fields), "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
        )

    async def spent(self, institution_id: str, month: str) -> Doc | None:
        return await self._spend.find_one({"_id": f"{institution_id}:{month}"})

    async def spending(self, month: str, institution_ids: Sequence[str] | None) -> list[Doc]:
        query: Doc = {"month": month}
        if institution_ids is not None:
            query["institution_id"] = {"$in": list(institution_ids)}
        return await self._spend.find(query).to_list(None)

    async def record(self, institution_id: str, month: str, segments: int, cost_milli: int) -> None:
        await self._spend.update_one(
            {"_id": f"{institution_id}:{month}"},
            {
                "$set": {"institution_id": institution_id, "month": month},
                "$inc": {"sms": 1, "segments": segments, "cost_milli": cost_milli},
            },
            upsert=True,
        )


class Receipts:
    """Provider delivery receipts seen, so a repeated callback changes nothing."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db["receipts"]

    async def first_time(self, key: str, body: Mapping[str, Any], now: datetime) -> bool:
        return await _insert_once(self._col, {"_id": key, "body": dict(body), "at": now})

    async def forget(self, key: str) -> None:
        await self._col.delete_one({"_id": key})


class AuditLog:
    """Notification's audit records (rule, template and SMS budget edits), each announced in the
    same write on `notification.events.v1`: evaluation serves the platform's audit trail."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[AUDIT]

    async def record(self, record: NotificationActionAudited) -> None:
        event = envelope(record, source="/notification", institutionid=record.institution_id)
        await self._col.insert_one({**audit_document(record), **outbox_fields([(record, event)])})


class Store:
    """All repositories over one database."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.contacts = Contacts(db)
        self.catalog = Catalog(db)
        self.cases = Cases(db)
        self.reminders = Reminders(db)
        self.deliveries = Deliveries(db)
        self.sms_quota = SmsQuota(db)
        self.receipts = Receipts(db)
        self.sms_budgets = SmsBudgets(db)
        self.audit = AuditLog(db)
