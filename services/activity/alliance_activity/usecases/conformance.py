"""Conformance before going live, as use cases: an institution's developer dry-runs the two L3
channels — the signed webhook and a Kafka message — check by check (timestamp, signature, envelope,
key, data) and learns what the real channel would do, nothing stored or published. Also the one
signature check the webhook and its dry run share.

The signature check never says which signature was expected: only whether one of the institution's
live keys signed the bytes received, with what to compare (the signed text's shape, the body's length
and SHA-256). Without a valid signature the data is not checked against the registry (nothing about
the institution's organisations is told to an unauthenticated caller)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alliance_shared.auth import Principal, webhook_signature
from alliance_shared.contracts.envelope import CloudEvent, EnvelopeError
from alliance_shared.contracts.topics import ACTIVITY_INGEST
from alliance_shared.contracts.vocabulary import Channel
from alliance_shared.errors import Forbidden
from alliance_shared.pii import PiiVault

from ..domain.model import Reporter, Submitted
from .ingestion import IngestReport
from .unit import ActivityUnit

SIGNATURE_SHAPE = re.compile(r"^sha256=[0-9a-f]{64}$")
NO_KEY_MATCHES = (
    "签名与该机构的有效 API 密钥均不匹配：请用 API 密钥对“时间戳.请求体原始字节”做 HMAC-SHA256 / matches no live key: "
    'HMAC-SHA256 of "{timestamp}.{raw body}" keyed with the API key'
)
Check = dict[str, Any]


def check(name: str, ok: bool, detail: str, **more: Any) -> Check:
    return {"check": name, "ok": ok, "detail": detail, **more}


@dataclass
class ConformanceRun:
    """The checks in order, and the ingestion's verdict once the data could be checked."""

    checks: list[Check] = field(default_factory=list)
    report: IngestReport | None = None

    @property
    def passed(self) -> bool:
        return all(c["ok"] for c in self.checks)


async def webhook_signer(unit: ActivityUnit, institution_id: str, timestamp: str, body: bytes,
                         signature: str) -> str | None:  # fmt: skip
    """The id of the institution's live key that signed `"{timestamp}.{body}"` as `signature`, or
    None (the webhook and its dry run ask the same)."""
    vault = PiiVault(unit.settings.pii_encryption_key)
    for key in await unit.keys.live_keys_of(institution_id):
        try:
            expected = webhook_signature(vault.open(key["sealed_key"]), timestamp, body)
        except ValueError:
            continue
        if hmac.compare_digest(expected, signature):
            return str(key["_id"])
    return None


async def webhook_credentials(
    unit: ActivityUnit, institution_id: str, body: bytes, timestamp: str, signature: str, now: datetime
) -> tuple[ConformanceRun, str | None]:
    """The timestamp's and the signature's checks, and the key that signed (None: none did)."""
    run, window = ConformanceRun(), unit.settings.webhook_window_s
    signed = {"signed_text": "{X-Timestamp}.{body}", "body_bytes": len(body),
              "body_sha256": hashlib.sha256(body).hexdigest()}  # fmt: skip
    try:
        skew = round(now.timestamp() - int(timestamp))
    except ValueError:
        run.checks.append(check("timestamp", False, "X-Timestamp 须为 Unix 秒数 / must be unix seconds",
                                field="X-Timestamp"))  # fmt: skip
    else:
        run.checks.append(check(
            "timestamp", abs(skew) <= window,
            f"与平台时钟相差 {skew} 秒，允许 ±{window} 秒 / {skew} s off the platform's clock, ±{window} s allowed",
            field="X-Timestamp", skew_s=skew,
        ))  # fmt: skip
    key_id = None
    if not SIGNATURE_SHAPE.match(signature):
        run.checks.append(check(
            "signature", False,
            "X-Signature 须为 sha256=<64 位小写十六进制> / must be sha256=<64 lowercase hex digits>",
            field="X-Signature", **signed,
        ))  # fmt: skip
    else:
        key_id = await webhook_signer(unit, institution_id, timestamp, body, signature)
        run.checks.append(check(
            "signature", key_id is not None,
            "签名有效 / signed with a live key of the institution" if key_id else NO_KEY_MATCHES,
            field="X-Signature", **signed,
        ))  # fmt: skip
    return run, key_id


def envelope_check(items: Sequence[Submitted]) -> Check:
    errors = []
    for item in items:
        try:
            CloudEvent.from_structured(item.raw)
        except EnvelopeError as exc:
            errors.append(f"{item.label}: {exc.field}: {exc.reason}")
    well_formed = f"{len(items)} 个 CloudEvent 结构有效 / well-formed CloudEvents"
    return check("envelope", not errors, "; ".join(errors) or well_formed)


def data_check(report: IngestReport) -> Check:
    if report.rejected:
        return check("data", False, f"{len(report.rejected)} 个事件将被拒收 / would be rejected (see rejected)")
    return check("data", True, "事件内容与登记信息一致 / the data checks against the registry")


async def dry_run_webhook(
    unit: ActivityUnit, run: ConformanceRun, institution_id: str, key_id: str, items: list[Submitted]
) -> ConformanceRun:
    """The data of a signed webhook, through the ingestion path as a dry run."""
    reporter = Reporter(subject=f"key:{key_id}", institution_id=institution_id, key_id=key_id)
    run.report = await unit.ingest(items, Channel.WEBHOOK, reporter, dry_run=True)
    run.checks.append(data_check(run.report))
    return run


@dataclass
class KafkaRun(ConformanceRun):
    would_consume: str = "rejected"  # accepted | duplicate | rejected | rejected_to_dlq


async def dry_run_kafka_message(
    unit: ActivityUnit, who: Principal, topic: str, key: str | None, headers: Sequence[tuple[str, str]], value: Any
) -> KafkaRun:
    """What the consumer of `activity.ingest.v1` would do with this message (key, `ce_*` headers,
    value), check by check; another institution's message is refused as the broker's ACLs would."""
    run = KafkaRun()
    named = {k.lower(): v for k, v in headers}
    if topic != ACTIVITY_INGEST:
        run.checks.append(check("topic", False, f"L3 事件应发往 {ACTIVITY_INGEST} / produce to {ACTIVITY_INGEST}",
                                field="topic"))  # fmt: skip
    institution = named.get("ce_institutionid")
    if not institution:
        run.checks.append(check(
            "ce_institutionid", False,
            "缺少 ce_institutionid 消息头：消费者无法确定机构，事件将被拒收 / "
            "missing: the consumer cannot tell the institution",
            field="headers.ce_institutionid",
        ))  # fmt: skip
    elif not who.is_secretariat and institution != who.institution_id:
        raise Forbidden(
            "ce_institutionid 不是你的机构：集群的 ACL 会拒绝该消息 / not your institution: the broker's "
            "ACLs refuse it",
            field="headers.ce_institutionid",
        )
    else:
        run.checks.append(check("ce_institutionid", True, f"机构 {institution} / institution {institution}"))
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    raw_value = text.encode() if value is not None else None
    try:
        event = CloudEvent.from_kafka([(k, v.encode()) for k, v in headers], raw_value)
    except EnvelopeError as exc:
        named_field = f"headers.{exc.field}" if exc.field.startswith("ce_") else exc.field
        run.checks.append(check("envelope", False, exc.reason, field=named_field))
        run.would_consume = "rejected_to_dlq"
        return run
    run.checks.append(check("envelope", True, f"二进制模式 CloudEvent {event.type} / binary-mode CloudEvent"))
    org = event.data.get("organization_id") if isinstance(event.data, dict) else None
    if org and key != org:
        run.checks.append(check(
            "key", True,
            f"建议以党组织编号 {org} 作为消息键，以保证同一组织的事件有序 / key by the organisation id {org} to keep "
            "its events in order", field="key", warning=True,
        ))  # fmt: skip
    if not institution:
        return run
    [run.report] = await unit.ingest.many(
        [(Reporter(subject="kafka", institution_id=institution), [Submitted(event.to_structured(), event.id)])],
        Channel.STREAM, dry_run=True,
    )  # fmt: skip
    run.checks.append(data_check(run.report))
    report = run.report
    run.would_consume = ("accepted" if report.accepted and not report.rejected
                         else "duplicate" if report.duplicates else "rejected")  # fmt: skip
    return run
