"""L3 streaming: the signed webhook and the consumer of `activity.ingest.v1`. Both only parse and
authenticate; the ingestion path decides."""

from __future__ import annotations

import logging

from alliance_shared.clock import Clock
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.vocabulary import Channel
from alliance_shared.errors import Unauthorized
from alliance_shared.kafka import principal
from alliance_shared.kafka.consumer import ConsumedMessage
from alliance_shared.pii import PiiVault
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace
from prometheus_client import Counter

from ..adapters.keys import ApiKeys
from ..domain.model import Reporter, Submitted
from ..usecases.conformance import webhook_signer
from ..usecases.ingestion import IngestSubmissions
from .deps import ActivityDep, event_answer
from .events import submitted_items
from .schemas import EventsAnswer

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["streaming"])
_tracer = trace.get_tracer("alliance_activity.streaming")
BAD_SIGNATURE = "签名无效或已过期 / invalid or expired signature"
L3_REFUSED = Counter("alliance_activity_l3_refused_total",
                     "L3 records dead-lettered: their producer is not proven to be their ce_institutionid",
                     ["reason"])


@router.post("/webhooks/{institution_id}", status_code=202, response_model=EventsAnswer)
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
    key_id = await webhook_signer(service, institution_id, x_timestamp, body, x_signature)
    if key_id is None:
        raise Unauthorized(BAD_SIGNATURE, field="X-Signature")
    reporter = Reporter(subject=f"key:{key_id}", institution_id=institution_id, key_id=key_id)
    items = await submitted_items(request, service.settings)
    report = await service.ingest(items, Channel.WEBHOOK, reporter)
    return JSONResponse(event_answer(report), status_code=202)


class L3Principals:
    """Who produced an L3 record: the institution whose API key signed it, which must be the
    record's `ce_institutionid` (alliance_shared.kafka.principal says why and how). The keys are
    the registry projection's, as for the API: a revoked key is refused within a second."""

    def __init__(self, keys: ApiKeys, vault: PiiVault) -> None:
        self._keys = keys
        self._vault = vault
        self._opened: dict[str, str] = {}  # sealed key -> key: one decryption per key, not per record

    async def principal(self, event: CloudEvent, message: ConsumedMessage) -> tuple[str, str]:
        """(institution, key id) of a record proven to be its institution's; `PrincipalRefused`
        otherwise, counted by reason."""
        try:
            claim = principal.claim_of(message.headers)
            key = await self._keys.key(claim.key_id)
            if key is None:
                raise principal.PrincipalRefused(principal.Refusal.UNKNOWN_KEY, f"key {claim.key_id}")
            api_key = self._open(key["sealed_key"])
            if api_key is None:
                raise principal.PrincipalRefused(principal.Refusal.UNKNOWN_KEY, f"key {claim.key_id} unreadable")
            institution = principal.verify(event, message.value, claim, key["institution_id"], api_key)
        except principal.PrincipalRefused as refused:
            L3_REFUSED.labels(refused.reason.value).inc()
            log.warning("L3 record %s (ce_institutionid %s) refused: %s", event.id, event.institutionid,
                        refused.reason.value)
            raise
        return institution, claim.key_id

    def _open(self, sealed: str) -> str | None:
        opened = self._opened.get(sealed)
        if opened is None:
            try:
                opened = self._vault.open(sealed)
            except ValueError:
                return None
            if len(self._opened) > 10_000:
                self._opened.clear()
            self._opened[sealed] = opened
        return opened


class StreamIngest:
    """The consumer of `activity.ingest.v1`: the institution is the `ce_institutionid` header,
    proven by the record's signature (`L3Principals`; without one, when the check is off, trusted
    as the broker's ACLs let it be). A refused record is dead-lettered by the consumer runner.

    Messages are collected while the consumer reads a batch and ingested at its end in one pass
    for every institution in it (`end_batch`, before the offsets commit): a handful of store
    commands per Kafka batch, not per message. The pass's span links the messages' own spans."""

    def __init__(self, ingest: IngestSubmissions, principals: L3Principals | None = None) -> None:
        self._ingest = ingest
        self._principals = principals
        self._pending: dict[tuple[str | None, str | None], list[Submitted]] = {}
        self._links: list[trace.Link] = []

    async def __call__(self, event: CloudEvent, message: ConsumedMessage) -> None:
        reporter: tuple[str | None, str | None] = (event.institutionid, None)
        if self._principals is not None:
            reporter = await self._principals.principal(event, message)
        self._pending.setdefault(reporter, []).append(Submitted(event.to_structured(), event.id))
        self._links.append(trace.Link(trace.get_current_span().get_span_context()))

    async def end_batch(self) -> None:
        if not self._pending:
            return
        pending, links = self._pending, self._links
        self._pending, self._links = {}, []
        try:
            with _tracer.start_as_current_span("activity.ingest.v1 batch", links=links):
                submissions = [
                    (Reporter(subject=f"key:{key_id}" if key_id else "kafka", institution_id=institution_id,
                              key_id=key_id), items)
                    for (institution_id, key_id), items in pending.items()
                ]
                for report in await self._ingest.many(submissions, Channel.STREAM):
                    for rejected in report.rejected:
                        log.info("stream event %s rejected: %s", rejected.event_id, rejected.reason_text)
        except BaseException:
            # tried again by the consumer: what was ingested already comes back as duplicates
            for reporter, items in pending.items():
                self._pending.setdefault(reporter, [])[:0] = items
            self._links[:0] = links
            raise
