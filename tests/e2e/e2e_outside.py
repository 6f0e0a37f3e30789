"""The outside world of the end-to-end tests, on 127.0.0.1 in this test process: an OTLP/HTTP trace
collector (protobuf `/v1/traces`, decoded with opentelemetry-proto) and an Alibaba Cloud SMS
endpoint that checks each request's HMAC-SHA1 signature the way the provider documents it
(written independently of the notification service's adapter)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.owner = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class OtlpCollector(_Server):
    """Keeps every span the services export."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._lock = threading.Lock()
        super().__init__(_OtlpHandler)

    def add(self, request: ExportTraceServiceRequest) -> None:
        with self._lock:
            for resource_spans in request.resource_spans:
                attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    for s in scope.spans:
                        self.spans.append(Span(attrs.get("service.name", "?"), s.name, s.trace_id.hex(),
                                               s.span_id.hex(), s.parent_span_id.hex(), s.kind))

    def trace(self, trace_id: str) -> list[Span]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]


class _OtlpHandler(_Quiet):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v1/traces":
            self.answer(404, b"", "text/plain")
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.owner.add(request)  # type: ignore[attr-defined]
        self.answer(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")


@dataclass
class AliyunSmsStandIn(_Server):
    """dysmsapi SendSms: RPC-style GET; HMAC-SHA1 over `GET&%2F&<encoded canonical query>` keyed with
    the secret + "&". Refuses an unknown key, a wrong signature or a reused nonce."""

    access_key_id: str = "LTAI-e2e-key"
    access_key_secret: str = "e2e-secret"
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__init__(_AliyunHandler)

    def check(self, query: str) -> tuple[int, dict[str, str]]:
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        given = params.pop("Signature", "")
        if params.get("AccessKeyId") != self.access_key_id:
            self.refused.append("InvalidAccessKeyId.NotFound")
            return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}

        def enc(text: str) -> str:
            return urllib.parse.quote(text, safe="~")

        canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
        to_sign = f"GET&{enc('/')}&{enc(canonical)}"
        expected = base64.b64encode(hmac.new(f"{self.access_key_secret}&".encode(), to_sign.encode(),
                                             hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, given):
            self.refused.append("SignatureDoesNotMatch")
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "signature not matched"}
        if params.get("SignatureNonce", "") in self.nonces:
            self.refused.append("SignatureNonceUsed")
            return 400, {"Code": "SignatureNonceUsed", "Message": "nonce used"}
        self.nonces.add(params.get("SignatureNonce", ""))
        self.accepted.append({**params, "TemplateParam": json.loads(params.get("TemplateParam") or "{}")})
        return 200, {"Code": "OK", "Message": "OK", "BizId": uuid.uuid4().hex, "RequestId": str(uuid.uuid4())}

    def to(self, phone: str) -> list[dict[str, Any]]:
        return [m for m in self.accepted if m.get("PhoneNumbers") == phone]


class _AliyunHandler(_Quiet):
    def do_GET(self) -> None:
        query = urllib.parse.urlsplit(self.path).query
        status, body = self.server.owner.check(query)  # type: ignore[attr-defined]
        self.answer(status, json.dumps(body).encode(), "application/json")
