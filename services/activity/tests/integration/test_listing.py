"""The submissions list pages by cursor (keyset: received_at, then id) as well as by page: a client
walking `next_cursor` sees every submission once, newest first, and a total only on the first page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alliance_shared.contracts.vocabulary import Role

from .conftest import Platform, meeting_event

pytestmark = pytest.mark.integration


async def post_batch(platform: Platform, ids: list[str]) -> None:
    answer = await platform.client.post(
        "/api/v1/events",
        headers=platform.key("inst-a") | {"Content-Type": "application/cloudevents-batch+json"},
        content=json.dumps([meeting_event(i, held_at=f"2026-10-{10 + n:02d}T09:00:00+08:00")
                            for n, i in enumerate(ids)]),
    )
    assert answer.status_code == 202, answer.text


async def walk(platform: Platform, headers: dict[str, str], **params: Any) -> tuple[list[str], list[dict[str, Any]]]:
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    query: dict[str, Any] = {"page_size": 3, **params}
    while True:
        answer = await platform.client.get("/api/v1/submissions", headers=headers, params=query)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        seen += [item["id"] for item in pages[-1]["items"]]
        if pages[-1]["next_cursor"] is None:
            return seen, pages
        query = {"page_size": 3, **params, "cursor": pages[-1]["next_cursor"]}


async def test_walking_next_cursor_lists_every_submission_once_with_a_total_on_the_first_page(
    platform: Platform,
) -> None:
    # one batch shares one received_at (the clock is fixed): the id breaks the ties
    ids = [f"page-{n}" for n in range(8)]
    await post_batch(platform, ids)
    secretariat = platform.person(Role.SECRETARIAT)  # minted once: two tokens minted a second apart differ
    for headers, params in ((platform.key("inst-a"), {}), (secretariat, {}), (secretariat, {"status": "accepted"})):
        seen, pages = await walk(platform, headers, **params)
        assert sorted(seen) == sorted(ids) and len(seen) == len(ids), seen
        assert seen == sorted(ids, reverse=True)  # newest first, ties by id
        assert [len(p["items"]) for p in pages] == [3, 3, 2]
        assert pages[0]["total"] == 8 and all("total" not in p for p in pages[1:])
        assert pages[0]["total_estimated"] is (not params and headers == secretariat)
    by_page = await platform.client.get("/api/v1/submissions", headers=platform.key("inst-a"),
                                        params={"page": 2, "page_size": 3})
    assert [i["id"] for i in by_page.json()["items"]] == sorted(ids, reverse=True)[3:6]  # page still works
    assert by_page.json()["total"] == 8


@pytest.mark.parametrize("params", [{"cursor": "not-a-cursor"}, {"cursor": "eyJhdCI6IDF9"},
                                    {"cursor": "eyJhdCI6IjIwMjYtMTAtMTJUMDk6MDA6MDArMDA6MDAiLCJpZCI6ImEifQ",
                                     "page": 2}])
async def test_a_cursor_not_answered_by_the_list_or_sent_with_a_page_is_422_naming_it(
    platform: Platform, params: dict[str, Any]
) -> None:
    answer = await platform.client.get("/api/v1/submissions", headers=platform.key("inst-a"), params=params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "cursor"
