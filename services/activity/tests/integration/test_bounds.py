"""Hostile bodies on the L2 batch, the signed webhook and the L1 upload: bounded, answered in the
error shape (422 for nesting, 413 for size), and nothing already accepted is lost."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from .conftest import Platform, meeting_event, running
from .test_channels import signed_webhook

pytestmark = pytest.mark.integration

DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
BATCH = {"Content-Type": "application/cloudevents-batch+json"}


@pytest.fixture
async def bounded(infra: Any) -> AsyncIterator[Platform]:
    async with running(infra, max_body_bytes=1_000_000, max_upload_bytes=2_000_000) as platform:
        yield platform


def _error(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["field"] == "$"
    return error


async def test_deep_nesting_in_a_batch_or_a_signed_webhook_is_422_and_the_service_still_ingests(
    bounded: Platform,
) -> None:
    for body in (DEEP_ARRAY, DEEP_OBJECT):
        error = _error(await bounded.client.post("/api/v1/events", content=body,
                                                 headers=bounded.key("inst-a") | BATCH), 422)
        assert error["message"].startswith("请求体无效") and "deeper than 32" in error["message"]
        _error(await signed_webhook(bounded, body), 422)
    good = await bounded.client.post("/api/v1/events", json=meeting_event("after-deep"), headers=bounded.key("inst-a"))
    assert good.status_code == 202 and good.json()["accepted"] == 1


async def test_a_body_over_max_body_bytes_is_413_before_it_is_parsed(bounded: Platform) -> None:
    huge = meeting_event("huge-1")
    huge["data"]["topic"] = "党" * 400_000  # 1.2 MB of UTF-8
    body = json.dumps(huge, ensure_ascii=False).encode()
    error = _error(await bounded.client.post("/api/v1/events", content=body, headers=bounded.key("inst-a")), 413)
    assert error["code"] == "payload_too_large" and error["message"].startswith("请求体超过 1000000 字节")
    _error(await signed_webhook(bounded, body), 413)
    assert await bounded.db["submissions"].count_documents({}) == 0


async def test_an_upload_over_max_upload_bytes_is_413(bounded: Platform) -> None:
    answer = await bounded.client.post(
        "/api/v1/uploads",
        headers=bounded.key("inst-a"),
        data={"kind": "meeting"},
        files={"file": ("三会一课.csv", b"x" * 2_500_000, "text/csv")},
    )
    assert _error(answer, 413)["code"] == "payload_too_large"
