"""Validation errors are Chinese first: the field by its name and the reason, then the path and
pydantic's English; the same for a CloudEvent, its data and a request body."""

from __future__ import annotations

import re

import pytest
from alliance_shared.contracts.catalog import parse_payload
from alliance_shared.contracts.envelope import CloudEvent, EnvelopeError
from alliance_shared.http import create_service_app
from alliance_shared.validation import explain
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

pytestmark = pytest.mark.unit
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def dues(**data: object) -> CloudEvent:
    body = {"member_id": "m-1", "month": "2026-10", "amount_cny": 50, **data}
    return CloudEvent.from_structured(
        {"specversion": "1.0", "id": "e-1", "source": "/t", "type": "fpba.dues.paid.v1", "data": body})


@pytest.mark.parametrize(
    ("data", "field", "chinese"),
    [
        ({"amount_cny": -1}, "data.amount_cny", "缴费金额（元）应不小于 0"),
        ({"amount_cny": "fifty"}, "data.amount_cny", "缴费金额（元）应为数字"),
        ({"member_id": None}, "data.member_id", "党员编号应为文字"),
    ],
)
def test_a_payload_error_names_the_field_and_the_reason_in_chinese_first(data, field, chinese) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_payload(dues(**data))
    assert caught.value.field == field
    zh, en = caught.value.reason.split(" / ", 1)
    assert zh == chinese and en.startswith(f"{field}: ")


def test_a_missing_attribute_of_the_envelope_is_named_in_chinese() -> None:
    with pytest.raises(EnvelopeError) as caught:
        CloudEvent.from_structured({"specversion": "1.0", "source": "/t", "type": "x"})
    assert caught.value.field == "id" and caught.value.reason.startswith("缺少事件编号 / id:")


def test_every_reason_is_chinese_first_whatever_pydantic_says() -> None:
    for kind in ("missing", "greater_than", "string_too_long", "literal_error", "datetime_parsing",
                 "timezone_aware", "value_error", "something_new"):
        path, text = explain({"type": kind, "loc": ("data", "held_at"), "msg": "Value error, bad", "ctx": {}})
        zh = text.split(" / ", 1)[0]
        assert path == "data.held_at" and CHINESE.search(zh) and "None" not in zh, (kind, text)


class Body(BaseModel):
    version: int = Field(ge=0)


def test_a_request_body_error_answers_422_in_chinese_first_with_its_field() -> None:
    router = APIRouter()

    @router.post("/things")
    async def things(body: Body) -> dict[str, int]:
        return {"version": body.version}

    from alliance_shared.runtime import Runtime
    from alliance_shared.settings import ServiceSettings

    app = create_service_app(Runtime(settings=ServiceSettings(environment="test")), title="t", routers=[router])
    answer = TestClient(app).post("/things", json={"version": -1})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == "version" and error["message"].startswith("请求无效：版本应不小于 0 / version:")
