"""The delivery log pages by cursor (keyset: created_at, then id) as well as by page (issue 17
item 6): walking `next_cursor` lists every delivery once, newest first, with a total on the first
page only, and an institution's admin walks only its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from alliance_shared.clock import FixedClock

from .conftest import bearer, running, shanghai

pytestmark = pytest.mark.integration


def delivery(n: int, institution: str, created_at: Any) -> dict[str, Any]:
    return {"_id": f"dlv-page-{n:02d}", "rule": "lagging_branch", "step": "secretary", "channel": "email",
            "recipient_masked": "s***@example.cn", "status": "delivered", "attempts": 1,
            "organization_id": f"org-{institution}", "institution_id": institution, "period": "2026-Q3",
            "created_at": created_at, "due_at": None, "history": []}


async def walk(client: Any, headers: dict[str, str], **params: Any) -> tuple[list[str], list[dict[str, Any]]]:
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    query: dict[str, Any] = {"page_size": 4, **params}
    while True:
        answer = await client.get("/api/v1/deliveries", headers=headers, params=query)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        seen += [item["id"] for item in pages[-1]["items"]]
        if pages[-1]["next_cursor"] is None:
            return seen, pages
        query = {"page_size": 4, **params, "cursor": pages[-1]["next_cursor"]}


async def test_walking_next_cursor_lists_every_delivery_once_newest_first(settings_for: Any) -> None:
    now = shanghai(2026, 9, 15, 10, 0)
    async with running(settings_for(), FixedClock(now)) as (app, client):
        store = app.state.notifier.store.deliveries
        # pairs share a created_at: the id breaks the tie
        docs = [delivery(n, "inst-p" if n % 3 else "inst-q", now - timedelta(minutes=n // 2)) for n in range(10)]
        for doc in docs:
            assert await store.create(doc, [])
        newest_first = [d["_id"] for d in sorted(docs, key=lambda d: (d["created_at"], d["_id"]), reverse=True)]
        seen, pages = await walk(client, bearer())
        assert seen == newest_first
        assert [len(p["items"]) for p in pages] == [4, 4, 2]
        assert pages[0]["total"] == 10 and pages[0]["total_estimated"] is True
        assert all("total" not in p for p in pages[1:])
        own, _ = await walk(client, bearer("institution_admin", institution_id="inst-q"))
        assert own == [i for i in newest_first if i in {"dlv-page-00", "dlv-page-03", "dlv-page-06", "dlv-page-09"}]
        second = (await client.get("/api/v1/deliveries", headers=bearer(), params={"page": 2, "page_size": 4})).json()
        assert [i["id"] for i in second["items"]] == newest_first[4:8] and second["total"] == 10
        bad = await client.get("/api/v1/deliveries", headers=bearer(), params={"cursor": "%%"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "cursor"


async def test_the_dead_letters_page_by_cursor_newest_first(settings_for: Any) -> None:
    now = shanghai(2026, 9, 15, 10, 0)
    async with running(settings_for(), FixedClock(now)) as (app, client):
        store = app.state.notifier.store.deliveries
        for n in range(5):
            await store.dead_letter(delivery(n, "inst-p", now), "provider refused", now - timedelta(minutes=n))
        seen: list[str] = []
        query: dict[str, Any] = {"limit": 2}
        while True:
            page = (await client.get("/api/v1/dead-letters", headers=bearer(), params=query)).json()
            seen += [i["delivery_id"] for i in page["items"]]
            if page["next_cursor"] is None:
                break
            query = {"limit": 2, "cursor": page["next_cursor"]}
        assert seen == [f"dlv-page-{n:02d}" for n in range(5)]
