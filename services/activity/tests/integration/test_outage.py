"""While the store is unreachable the API says so — 503 in the error shape with Retry-After — and
the same request succeeds once it is back."""

from __future__ import annotations

from typing import Any

import pytest
from alliance_shared.testing import OutageProxy

from .conftest import meeting_event, running

pytestmark = pytest.mark.integration


async def test_a_store_outage_answers_503_with_retry_after_and_the_retried_event_is_accepted(infra: Any) -> None:
    host, port = infra.mongodb_uri.split("//")[1].split("/")[0].split(":")
    store = OutageProxy(host, int(port))
    await store.up()
    try:
        async with running(infra, mongodb_uri=f"mongodb://{store.address}/") as platform:
            event = meeting_event("during-outage")
            await store.down()
            answer = await platform.client.post("/api/v1/events", json=event, headers=platform.key("inst-a"))
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "5"
            error = answer.json()["error"]
            assert error["code"] == "unavailable" and error["message"].startswith("存储暂时不可用")
            listed = await platform.client.get("/api/v1/submissions", headers=platform.key("inst-a"))
            assert listed.status_code == 503 and "retry-after" in listed.headers
            await store.up()
            again = await platform.client.post("/api/v1/events", json=event, headers=platform.key("inst-a"))
            assert again.status_code == 202 and again.json()["accepted"] + again.json()["duplicates"] == 1
    finally:
        await store.down()
