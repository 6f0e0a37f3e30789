"""Conformance before going live over HTTP: an institution's developer dry-runs the two L3
channels as the batch API's sandbox (`/events:validate`) does the batch.
`POST /api/v1/webhooks/{id}/validate` takes exactly what the webhook takes (body, X-Timestamp,
X-Signature) and `POST /api/v1/kafka-messages:validate` a Kafka message written out as JSON (key,
`ce_*` headers, value). The checks are `usecases/conformance.py`; these routes parse and map."""

from __future__ import annotations

import json
from typing import Any

from alliance_shared.clock import Clock
from alliance_shared.contracts.topics import ACTIVITY_EVENTS, ACTIVITY_INGEST, ACTIVITY_REJECTED
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import DomainError, Forbidden, Invalid
from alliance_shared.http import CurrentUser
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..usecases import conformance
from ..usecases.conformance import ConformanceRun, check
from ..usecases.ingestion import IngestReport
from .deps import ActivityDep, event_answer
from .events import submitted_items
from .schemas import DryRun

router = APIRouter(prefix="/api/v1", tags=["conformance"])
NOTHING_KEPT = {"stored": False, "published": False}
NOT_CHECKED = "签名或时间戳无效，未检查数据 / not checked: signature or timestamp invalid"


def _outcome(report: IngestReport) -> dict[str, Any]:
    answer = event_answer(report)
    return answer | {
        "would_publish": {
            **({ACTIVITY_EVENTS: answer["accepted"]} if answer["accepted"] else {}),
            **({ACTIVITY_REJECTED: len(answer["rejected"])} if answer["rejected"] else {}),
        }
    }


def _answer(run: ConformanceRun, channel: str, **would: Any) -> dict[str, Any]:
    return {"dry_run": True, "channel": channel, **would, "checks": run.checks,
            **(_outcome(run.report) if run.report is not None else {}), **NOTHING_KEPT}  # fmt: skip


@router.post("/webhooks/{institution_id}/validate", response_model=None,
             responses={200: {"model": DryRun, "description": "试运行结果 / the dry run"}})
async def validate_webhook(
    institution_id: str,
    request: Request,
    service: ActivityDep,
    x_timestamp: str = Header(""),
    x_signature: str = Header(""),
) -> dict[str, Any] | JSONResponse:
    """试运行签名回调：逐项检查时间戳、签名、信封与数据，说明真实回调将如何应答，不存储、不发布 /
    dry-run the signed webhook: what it would answer, nothing stored or published. Unsigned (or
    stale), it answers 401 as the webhook does, the checks in the error object."""
    body = await request.body()
    clock: Clock = request.app.state.clock
    run, key_id = await conformance.webhook_credentials(
        service, institution_id, body, x_timestamp, x_signature, clock.now()
    )
    authentic = run.passed
    try:
        items = await submitted_items(request, service.settings)
    except DomainError as exc:
        run.checks.append(check("envelope", False, exc.message, field=exc.field))
        return _answer(run, "webhook", would_answer=exc.status) if authentic else _unsigned(run.checks)
    run.checks.append(conformance.envelope_check(items))
    if not authentic or key_id is None:
        run.checks.append(check("data", False, NOT_CHECKED))
        return _unsigned(run.checks)
    return _answer(await conformance.dry_run_webhook(service, run, institution_id, key_id, items), "webhook",
                   would_answer=202)  # fmt: skip


def _unsigned(checks: list[dict[str, Any]]) -> JSONResponse:
    """401, as the webhook answers an unsigned call (the signature is the dry run's credential too),
    with the checks that say why in the error object; the data is not looked at."""
    failed = next(c for c in checks if not c["ok"])
    error = {"code": "unauthorized", "message": failed["detail"], "field": failed.get("field"),
             "dry_run": True, "channel": "webhook", "would_answer": 401, "checks": checks, **NOTHING_KEPT}
    return JSONResponse({"error": error}, status_code=401)


async def _message(request: Request) -> KafkaMessage:
    """The body as a `KafkaMessage`; what is not one is 422 naming the field (never a bare 400)."""
    try:
        raw = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise Invalid("请求体不是 JSON / the body is not JSON", field="$") from None
    try:
        return KafkaMessage.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first.get("loc", ())) or "$"
        raise Invalid(f"消息格式无效 / invalid message: {first.get('msg')}", field=field) from None


class KafkaMessage(BaseModel):
    """A message for `activity.ingest.v1` written out as JSON: its key, its headers (binary content
    mode: `ce_*` and `content-type`), and its value (the event's data, as JSON or as the text sent)."""

    model_config = ConfigDict(extra="forbid")
    topic: str = Field(default=ACTIVITY_INGEST, max_length=200)
    key: str | None = Field(default=None, max_length=200)
    headers: dict[str, str] | list[tuple[str, str]] = Field(default_factory=dict)
    value: Any = None


@router.post(
    "/kafka-messages:validate",
    response_model=DryRun,
    response_model_exclude_unset=True,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": KafkaMessage.model_json_schema()}}}
    },
)
async def validate_kafka_message(request: Request, who: CurrentUser, service: ActivityDep) -> dict[str, Any]:
    """试运行 L3 Kafka 消息（键、ce_* 消息头、值）：逐项检查并说明消费者将如何处理，不存储、不发布 /
    dry-run an L3 Kafka message: what the consumer would do, nothing stored or published."""
    message = await _message(request)
    if not who.is_machine and who.role not in (Role.INSTITUTION_ADMIN, Role.SECRETARIAT):
        raise Forbidden(
            "需用机构的 API 密钥或机构管理员身份 / use the institution's API key or admin role", field="role"
        )
    headers = list(message.headers.items()) if isinstance(message.headers, dict) else list(message.headers)
    run = await conformance.dry_run_kafka_message(service, who, message.topic, message.key, headers, message.value)
    return _answer(run, "stream", would_consume=run.would_consume)
