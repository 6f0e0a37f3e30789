"""In-memory stand-ins for activity's adapters (cosmicpython's `FakeRepository`), so a handler is
tested without Kafka or the store: the registry projection keeps what it was told per document,
folded in order as the real one folds a batch; the period-lock store keeps closed periods and
exceptions; the key reads answer from a dict."""

from __future__ import annotations

from typing import Any

from alliance_activity.domain.model import Posting

Doc = dict[str, Any]


class FakeRegistryProjection:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Doc]] = {}  # collection → id → fields, as folded
        self.postings: dict[str, list[Posting]] = {}  # member → the postings heard, in order

    def _put(self, collection: str, doc_id: str, fields: Doc) -> None:
        self.docs.setdefault(collection, {}).setdefault(doc_id, {}).update(fields)

    def put_institution(self, institution_id: str, fields: Doc) -> None:
        self._put("institutions", institution_id, fields)

    def put_organization(self, organization_id: str, fields: Doc) -> None:
        self._put("organizations", organization_id, fields)

    def put_member(self, member_id: str, fields: Doc, posting: Posting | None = None) -> None:
        self._put("members", member_id, fields)
        if posting is not None:
            self.postings.setdefault(member_id, []).append(posting)

    def put_api_key(self, key_id: str, fields: Doc) -> None:
        self._put("api_keys", key_id, fields)


class FakeKeyReads:
    def __init__(self, *docs: Doc) -> None:
        self.docs = {d["_id"]: d for d in docs}

    async def api_key(self, key_id: str) -> Doc | None:
        return self.docs.get(key_id)

    async def live_keys_of(self, institution_id: str) -> list[Doc]:
        return [d for d in self.docs.values() if d["institution_id"] == institution_id and not d.get("revoked_at")]


class FakePeriodLockStore:
    def __init__(self) -> None:
        self.closed_at: dict[str, Any] = {}
        self.exceptions: dict[str, Doc] = {}

    async def closed(self, period: str, closed_at: Any) -> None:
        self.closed_at[period] = closed_at

    async def exception(self, exception_id: str, fields: Doc) -> None:
        self.exceptions.setdefault(exception_id, {}).update(fields)
