"""L3 streaming: the signed webhook and the consumer of `activity.ingest.v1`. Both only parse and
authenticate; the ingestion path decides."""

from __future__ import annotations

import hmac
import logging

from alliance_shared.auth import webhook_signature
from alliance_shared.clock import Clock
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.vocabulary import Channel
from alliance_shared.errors import Unauthorized
from alliance_shared.kafka.consumer import ConsumedMessage
from alliance_shared.pii import PiiVault
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from ..domain.model import Reporter, Submitted
from ..handlers import IngestSubmissions
from .deps import ActivityDep, event_answer
from .events import submitted_items

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["streaming"])
BAD_SIGNATURE = "签名无效或已过期 / invalid or expired signature"


@router.post("/webhooks/{institution_id}", status_code=202)
async def webhook(
    institution_id: str,
    request: Request,
    service: ActivityDep,
    x_timestamp: str = Header(""),
    x_signature: str = Header(""),
) -> JSONResponse:
    """A CloudEvent signed with the institution's API key over ``"{timestamp}.{body}"``."""
    body = await request.body()
    clock: Clock = request.app.state.clock
    try:
        sent_at = int(x_timestamp)
    except ValueError:
        raise Unauthorized(BAD_SIGNATURE, field="X-Timestamp") from None
    if abs(clock.now().timestamp() - sent_at) > service.settings.webhook_window_s:
        raise Unauthorized(BAD_SIGNATURE, field="X-Timestamp")
    vault = PiiVault(service.settings.pii_encryption_key)
    key_id = None
    for key in await service.projection.live_keys_of(institution_id):
        try:
            expected = webhook_signature(vault.open(key["sealed_key"]), x_timestamp, body)
        except ValueError:
            continue
        if hmac.compare_digest(expected, x_signature):
            key_id = key["_id"]
            break
    if key_id is None:
        raise Unauthorized(BAD_SIGNATURE, field="X-Signature")
    reporter = Reporter(subject=f"key:{key_id}", institution_id=institution_id, key_id=key_id)
    items = await submitted_items(request, service.settings.batch_max_events)
    report = await service.ingest(items, Channel.WEBHOOK, reporter)
    return JSONResponse(event_answer(report), status_code=202)


def ingest_consumer(ingest: IngestSubmissions):  # type: ignore[no-untyped-def]
    """The handler of `activity.ingest.v1`: the institution is the `ce_institutionid` header, which
    the broker's ACLs tie to the producing institution's own credentials."""

    async def handle(event: CloudEvent, message: ConsumedMessage) -> None:
        reporter = Reporter(subject="kafka", institution_id=event.institutionid)
        item = Submitted(event.to_structured(), event.id)
        report = await ingest([item], Channel.STREAM, reporter)
        for rejected in report.rejected:
            log.info("stream event %s rejected: %s", rejected.event_id, rejected.reason_text)

    return handle
