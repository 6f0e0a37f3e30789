"""Conformance before going live: an institution's developer dry-runs the two L3 channels as the
batch API's sandbox (`/events:validate`) does the batch. `POST /api/v1/webhooks/{id}/validate` takes
exactly what the webhook takes (body, X-Timestamp, X-Signature) and `POST /api/v1/kafka-messages:validate`
a Kafka message written out as JSON (key, `ce_*` headers, value). Each answers check by check —
timestamp, signature, envelope, data — and what the real channel would do (its status, and each
event accepted, a duplicate or rejected with its reason), storing and publishing nothing.

The signature check never says which signature was expected: only whether one of the institution's
live keys signed the bytes received, with what to compare (the signed text's shape, the body's length
and SHA-256). Without a valid signature the data is not checked against the registry (nothing about
the institution's organisations is told to an unauthenticated caller)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from alliance_shared.clock import Clock
from alliance_shared.contracts.envelope import CloudEvent, EnvelopeError
from alliance_shared.contracts.topics import ACTIVITY_EVENTS, ACTIVITY_INGEST, ACTIVITY_REJECTED
from alliance_shared.contracts.vocabulary import Channel, Role
from alliance_shared.errors import DomainError, Forbidden, Invalid
from alliance_shared.http import CurrentUser
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..domain.model import Reporter, Submitted
from ..handlers import IngestReport
from .deps import ActivityDep, event_answer
from .events import submitted_items
from .schemas import DryRun
from .streaming import webhook_signer

router = APIRouter(prefix="/api/v1", tags=["conformance"])
SIGNATURE_SHAPE = re.compile(r"^sha256=[0-9a-f]{64}$")
NOTHING_KEPT = {"stored": False, "published": False}
NO_KEY_MATCHES = (
    "签名与该机构的有效 API 密钥均不匹配：请用 API 密钥对“时间戳.请求体原始字节”做 HMAC-SHA256 / matches no live key: "
    'HMAC-SHA256 of "{timestamp}.{raw body}" keyed with the API key'
)


def _check(name: str, ok: bool, detail: str, **more: Any) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail, **more}


def _outcome(report: IngestReport) -> dict[str, Any]:
    answer = event_answer(report)
    return answer | {
        "would_publish": {
            **({ACTIVITY_EVENTS: answer["accepted"]} if answer["accepted"] else {}),
            **({ACTIVITY_REJECTED: len(answer["rejected"])} if answer["rejected"] else {}),
        }
    }


def _data_check(report: IngestReport) -> dict[str, Any]:
    if report.rejected:
        return _check("data", False, f"{len(report.rejected)} 个事件将被拒收 / would be rejected (see rejected)")
    return _check("data", True, "事件内容与登记信息一致 / the data checks against the registry")


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
    window = service.settings.webhook_window_s
    checks: list[dict[str, Any]] = []
    signed = {
        "signed_text": "{X-Timestamp}.{body}",
        "body_bytes": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    try:
        skew = round(clock.now().timestamp() - int(x_timestamp))
    except ValueError:
        checks.append(
            _check("timestamp", False, "X-Timestamp 须为 Unix 秒数 / must be unix seconds", field="X-Timestamp")
        )
    else:
        fresh = abs(skew) <= window
        checks.append(
            _check(
                "timestamp",
                fresh,
                f"与平台时钟相差 {skew} 秒，允许 ±{window} 秒 / {skew} s off the platform's clock, ±{window} s allowed",
                field="X-Timestamp",
                skew_s=skew,
            )
        )
    key_id = None
    if not SIGNATURE_SHAPE.match(x_signature):
        checks.append(
            _check(
                "signature",
                False,
                "X-Signature 须为 sha256=<64 位小写十六进制> / must be sha256=<64 lowercase hex digits>",
                field="X-Signature",
                **signed,
            )
        )
    else:
        key_id = await webhook_signer(service, institution_id, x_timestamp, body, x_signature)
        checks.append(
            _check(
                "signature",
                key_id is not None,
                "签名有效 / signed with a live key of the institution" if key_id else NO_KEY_MATCHES,
                field="X-Signature",
                **signed,
            )
        )
    authentic = all(c["ok"] for c in checks)
    try:
        items = await submitted_items(request, service.settings)
    except DomainError as exc:
        checks.append(_check("envelope", False, exc.message, field=exc.field))
        if not authentic:
            return _unsigned(checks)
        return {"dry_run": True, "channel": "webhook", "would_answer": exc.status, "checks": checks, **NOTHING_KEPT}
    envelope_errors = _envelope_errors(items)
    checks.append(
        _check(
            "envelope",
            not envelope_errors,
            "; ".join(envelope_errors) or f"{len(items)} 个 CloudEvent 结构有效 / well-formed CloudEvents",
        )
    )
    if not authentic:
        checks.append(
            _check("data", False, "签名或时间戳无效，未检查数据 / not checked: signature or timestamp invalid")
        )
        return _unsigned(checks)
    reporter = Reporter(subject=f"key:{key_id}", institution_id=institution_id, key_id=key_id)
    report = await service.ingest(items, Channel.WEBHOOK, reporter, dry_run=True)
    checks.append(_data_check(report))
    return {
        "dry_run": True,
        "channel": "webhook",
        "would_answer": 202,
        "checks": checks,
        **_outcome(report),
        **NOTHING_KEPT,
    }


def _unsigned(checks: list[dict[str, Any]]) -> JSONResponse:
    """401, as the webhook answers an unsigned call (the signature is the dry run's credential too),
    with the checks that say why in the error object; the data is not looked at."""
    failed = next(c for c in checks if not c["ok"])
    error = {"code": "unauthorized", "message": failed["detail"], "field": failed.get("field"),
             "dry_run": True, "channel": "webhook", "would_answer": 401, "checks": checks, **NOTHING_KEPT}
    return JSONResponse({"error": error}, status_code=401)


def _envelope_errors(items: list[Submitted]) -> list[str]:
    errors = []
    for item in items:
        try:
            CloudEvent.from_structured(item.raw)
        except EnvelopeError as exc:
            errors.append(f"{item.label}: {exc.field}: {exc.reason}")
    return errors


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
    named = {k.lower(): v for k, v in headers}
    checks: list[dict[str, Any]] = []
    if message.topic != ACTIVITY_INGEST:
        checks.append(
            _check("topic", False, f"L3 事件应发往 {ACTIVITY_INGEST} / produce to {ACTIVITY_INGEST}", field="topic")
        )
    institution = named.get("ce_institutionid")
    if not institution:
        checks.append(
            _check(
                "ce_institutionid",
                False,
                "缺少 ce_institutionid 消息头：消费者无法确定机构，事件将被拒收 / "
                "missing: the consumer cannot tell the institution",
                field="headers.ce_institutionid",
            )
        )
    elif not who.is_secretariat and institution != who.institution_id:
        raise Forbidden(
            "ce_institutionid 不是你的机构：集群的 ACL 会拒绝该消息 / not your institution: the broker's "
            "ACLs refuse it",
            field="headers.ce_institutionid",
        )
    else:
        checks.append(_check("ce_institutionid", True, f"机构 {institution} / institution {institution}"))
    value = message.value if isinstance(message.value, str) else json.dumps(message.value, ensure_ascii=False)
    raw_value = value.encode() if message.value is not None else None
    try:
        event = CloudEvent.from_kafka([(k, v.encode()) for k, v in headers], raw_value)
    except EnvelopeError as exc:
        checks.append(
            _check(
                "envelope",
                False,
                exc.reason,
                field=f"headers.{exc.field}" if exc.field.startswith("ce_") else exc.field,
            )
        )
        return {
            "dry_run": True,
            "channel": "stream",
            "would_consume": "rejected_to_dlq",
            "checks": checks,
            **NOTHING_KEPT,
        }
    checks.append(_check("envelope", True, f"二进制模式 CloudEvent {event.type} / binary-mode CloudEvent"))
    org = event.data.get("organization_id") if isinstance(event.data, dict) else None
    if org and message.key != org:
        checks.append(
            _check(
                "key",
                True,
                f"建议以党组织编号 {org} 作为消息键，以保证同一组织的事件有序 / key by the "
                f"organisation id {org} to keep its events in order",
                field="key",
                warning=True,
            )
        )
    if not institution:
        return {"dry_run": True, "channel": "stream", "would_consume": "rejected", "checks": checks, **NOTHING_KEPT}
    reporter = Reporter(subject="kafka", institution_id=institution)
    [report] = await service.ingest.many(
        [(reporter, [Submitted(event.to_structured(), event.id)])], Channel.STREAM, dry_run=True
    )
    checks.append(_data_check(report))
    return {
        "dry_run": True,
        "channel": "stream",
        "would_consume": "accepted"
        if report.accepted and not report.rejected
        else "duplicate"
        if report.duplicates
        else "rejected",
        "checks": checks,
        **_outcome(report),
        **NOTHING_KEPT,
    }
