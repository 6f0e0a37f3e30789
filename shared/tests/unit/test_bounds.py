"""Request bodies are bounded before anything parses them: JSON nesting and byte size."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from alliance_shared.bounds import JsonTooDeep, json_depth, loads
from alliance_shared.contracts.envelope import CloudEvent, EnvelopeError, parse_http_body
from alliance_shared.http import create_service_app
from alliance_shared.runtime import Runtime
from alliance_shared.settings import ServiceSettings
from fastapi import APIRouter, File, Request, UploadFile
from pydantic import BaseModel

pytestmark = pytest.mark.unit

DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth < 8 and pick < 0.3:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 8 and pick < 0.6:
        return {rng.choice(['k', '[', '"}', '\\', 'é']): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rng.choice(["]]", "{[", '\\"[', "\\\\", "学习 [党章]", 1, None, True, "x\\"])


def test_the_depth_is_read_from_the_bytes_as_the_decoder_would_nest_them():
    rng = random.Random(17)
    for _ in range(2000):
        value = _random_json(rng)
        for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
            assert json_depth(text.encode()) == _depth(value), text


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT])
def test_a_hostile_nesting_is_refused_before_decoding(body: bytes):
    with pytest.raises(JsonTooDeep):
        loads(body)
    with pytest.raises(EnvelopeError) as refused:
        parse_http_body("application/cloudevents-batch+json", body)
    assert refused.value.field == "$" and "deeper than 32" in refused.value.reason


def test_the_nesting_limit_is_a_parameter_and_a_body_within_it_parses():
    body = json.dumps([{"data": {"items": [[1]]}}]).encode()
    assert parse_http_body("application/cloudevents-batch+json", body, max_depth=5)
    with pytest.raises(EnvelopeError):
        parse_http_body("application/cloudevents-batch+json", body, max_depth=4)


def test_a_kafka_message_with_hostile_data_is_an_envelope_error_not_a_recursion():
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_source", b"/s"), ("ce_type", b"t")]
    with pytest.raises(EnvelopeError) as refused:
        CloudEvent.from_kafka(headers, DEEP_OBJECT)
    assert refused.value.field == "data"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    router = APIRouter()

    @router.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.post("/upload")
    async def upload(file: UploadFile = File(...)) -> dict[str, int]:
        return {"bytes": len(await file.read())}

    settings = ServiceSettings(max_body_bytes=1000, max_upload_bytes=5000)
    app = create_service_app(Runtime(settings), title="bounds", routers=[router])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


def _is_413(answer: httpx.Response) -> bool:
    error = answer.json()["error"]
    return (answer.status_code == 413 and error["code"] == "payload_too_large" and error["field"] == "$"
            and error["message"].startswith("请求体超过 1000 字节"))


async def test_a_body_over_max_body_bytes_is_413_in_the_error_shape(client: httpx.AsyncClient):
    assert (await client.post("/echo", content=b"x" * 1000)).json() == {"bytes": 1000}
    assert _is_413(await client.post("/echo", content=b"x" * 1001))


async def test_a_streamed_body_without_a_length_is_cut_at_the_bound(client: httpx.AsyncClient):
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 100

    assert _is_413(await client.post("/echo", content=chunks()))


async def test_a_multipart_upload_has_its_own_bound(client: httpx.AsyncClient):
    ok = await client.post("/upload", files={"file": ("a.csv", b"x" * 3000)})
    assert ok.json() == {"bytes": 3000}
    refused = await client.post("/upload", files={"file": ("a.csv", b"x" * 6000)})
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "payload_too_large"


def _is_nul_422(answer: httpx.Response) -> bool:
    error = answer.json()["error"]
    return answer.status_code == 422 and error["field"] == "$" and error["message"].startswith("文本不能包含空字符")


async def test_a_nul_character_in_json_a_path_or_a_query_is_422_and_an_upload_may_hold_nul_bytes(
    client: httpx.AsyncClient,
):
    json_type = {"Content-Type": "application/json"}
    assert _is_nul_422(await client.post("/echo", content=b'{"name": "a\\u0000b"}', headers=json_type))
    assert _is_nul_422(await client.post("/echo", content=b'{"name": "a\x00b"}', headers=json_type))
    batch = {"Content-Type": "application/cloudevents-batch+json"}
    assert _is_nul_422(await client.post("/echo", content=b'[{"n": "\\\\\\u0000"}]', headers=batch))

    async def split() -> AsyncIterator[bytes]:  # the escape across two chunks
        yield b'{"name": "x\\u00'
        yield b'00"}'

    assert _is_nul_422(await client.post("/echo", content=split(), headers=json_type))
    # the text \u0000 itself (an escaped backslash, then u0000) is no NUL
    assert (await client.post("/echo", content=b'{"n": "\\\\u0000"}', headers=json_type)).json() == {"bytes": 16}
    assert _is_nul_422(await client.post("/echo%00"))
    assert _is_nul_422(await client.post("/echo?x=a%00", content=b"{}", headers=json_type))
    binary = await client.post("/upload", files={"file": ("a.xlsx", b"PK\x03\x04\x00\x00" * 10)})
    assert binary.json() == {"bytes": 60}


class Note(BaseModel):
    text: str


async def test_an_optional_body_that_is_not_json_is_422_in_the_error_shape():
    router = APIRouter()

    @router.post("/note")
    async def note(body: Note | None = None) -> dict[str, str]:
        return {"text": body.text if body else ""}

    app = create_service_app(Runtime(ServiceSettings()), title="bounds", routers=[router])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.post("/note", json={"text": "好"})).json() == {"text": "好"}
        answer = await c.post("/note", content=b"\xff\xfe not json", headers={"Content-Type": "application/json"})
        assert answer.status_code == 422 and answer.json()["error"]["field"] == "$"
        assert answer.json()["error"]["message"].startswith("请求体不是有效的 JSON")
