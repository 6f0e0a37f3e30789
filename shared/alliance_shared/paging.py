"""Keyset (cursor) paging of the big lists (submissions, deliveries): a page continues after the last
item of the one before by its (time, `_id`), so the store never skips over the pages already read,
however deep a client pages; `page`/`page_size` stay for the clients that use them."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from .errors import Invalid

MAX_CURSOR_CHARS = 512

Cursor = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_CHARS,
          description="上一页答复中的 next_cursor，从其后继续 / the previous page's next_cursor: continue after it"),
]


@dataclass(frozen=True)
class After:
    """Where a page starts: after the item at `at` with `_id` `id` (newest first)."""

    at: datetime
    id: str


def encode_cursor(at: datetime, doc_id: str) -> str:
    """An opaque cursor naming the last item answered."""
    raw = json.dumps({"at": at.isoformat(), "id": doc_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> After:
    """The position `encode_cursor` named; a cursor not made by it is 422 naming `cursor`."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at = datetime.fromisoformat(raw["at"])
        doc_id = raw["id"]
        if not isinstance(doc_id, str) or at.tzinfo is None:
            raise ValueError(doc_id)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise Invalid("分页游标无效，请使用上一页答复中的 next_cursor / invalid cursor: use a next_cursor "
                      "from a previous answer", field="cursor") from None
    return After(at, doc_id)


def after(query: Mapping[str, Any], time_field: str, position: After | None) -> dict[str, Any]:
    """`query` narrowed to the items after `position` in the order of `newest_first(time_field)`."""
    narrowed = dict(query)
    if position is not None:
        narrowed["$or"] = [
            {time_field: {"$lt": position.at}},
            {time_field: position.at, "_id": {"$lt": position.id}},
        ]
    return narrowed


def newest_first(time_field: str) -> list[tuple[str, int]]:
    """The keyset's order: newest first, ties by `_id`."""
    return [(time_field, -1), ("_id", -1)]


def next_cursor(docs: Sequence[Mapping[str, Any]], limit: int, time_field: str) -> str | None:
    """The cursor of the page after `docs` (read with `limit + 1`), or None when they are the last."""
    if len(docs) <= limit:
        return None
    last = docs[limit - 1]
    return encode_cursor(last[time_field], str(last["_id"]))


async def total(collection: Any, query: Mapping[str, Any]) -> tuple[int, bool]:
    """(the list's total, whether it is an estimate). An unfiltered total reads the collection's
    count from its metadata (`estimated_document_count`: MongoDB counts no document for it) instead
    of counting every document on each request; a filtered one is counted through its index."""
    if not query:
        return int(await collection.estimated_document_count()), True
    return int(await collection.count_documents(dict(query))), False


def continued(cursor: str | None, page: int) -> After | None:
    """Where a page starts: after `cursor`, or by `page` (a cursor and a page past the first are
    two answers to one question: 422 naming `cursor`)."""
    if cursor is None:
        return None
    if page != 1:
        raise Invalid("cursor 与 page 只能二选一 / send either cursor or page, not both", field="cursor")
    return decode_cursor(cursor)
